"""Built-in lifecycles load from the package and pass the property suite."""

import pytest

import ticketflow as tf
from ticketflow.testing import LifecycleContract


def test_builtins_are_listed_and_load():
    assert "zendesk" in tf.builtins()
    lc = tf.builtin("zendesk")
    assert lc.source == "builtin:zendesk"
    assert tf.builtin("zendesk") is lc  # compiled once


def test_unknown_builtin_is_an_invalid_lifecycle():
    with pytest.raises(tf.InvalidLifecycle, match=r"available: .*zendesk"):
        tf.builtin("nope")


class TestZendesk(LifecycleContract):
    lifecycle = tf.builtin("zendesk")
