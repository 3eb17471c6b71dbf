"""The browser tests' Node tools install themselves once, and say plainly what is missing."""

from __future__ import annotations

import pytest

from tests import node_tools


def test_without_npm_the_tests_that_need_it_fail_and_say_why(monkeypatch):
    monkeypatch.setattr(node_tools, "_installed_from", lambda: None)
    monkeypatch.setattr(node_tools.shutil, "which", lambda name: None)
    with pytest.raises(pytest.fail.Exception, match="need Node.js and npm .* tests/node/package-lock.json"):
        node_tools.node_modules()


def test_an_install_matching_the_lockfile_is_not_repeated(monkeypatch):
    installed = node_tools.node_modules()
    assert (installed / "oidc-provider" / "package.json").is_file()
    assert (installed / "axe-core" / "axe.min.js").is_file()

    def npm(*args, **kwargs):
        raise AssertionError("npm ran again")

    monkeypatch.setattr(node_tools.subprocess, "run", npm)
    assert node_tools.node_modules() == installed
