"""The claims a lesson makes about its figures: printed, and raised only where they must hold."""

import pytest

from nst_tf.checks import claims


def test_a_claim_that_holds_is_printed_with_its_numbers(capsys, monkeypatch):
    monkeypatch.setenv("NST_TF_CLAIMS", "assert")
    assert claims.claim("the cost falls", 3.0 < 5.0, "5.0 -> 3.0") is True
    out = capsys.readouterr().out
    assert out.startswith("✓ the cost falls") and "5.0 -> 3.0" in out
    assert claims.made[-1] == ("the cost falls", True, "5.0 -> 3.0")


def test_a_false_claim_raises_at_the_defaults(monkeypatch):
    monkeypatch.delenv("NST_TF_CLAIMS", raising=False)
    monkeypatch.delenv("NST_TF_FAST", raising=False)
    with pytest.raises(claims.ClaimFailed, match="the cost falls"):
        claims.claim("the cost falls", False, "5.0 -> 7.0")


def test_a_false_claim_is_reported_in_fast_mode(capsys, monkeypatch):
    monkeypatch.delenv("NST_TF_CLAIMS", raising=False)
    monkeypatch.setenv("NST_TF_FAST", "1")
    assert claims.claim("the cost falls", False, "5.0 -> 7.0") is False
    assert capsys.readouterr().out.startswith("✗ the cost falls")


def test_an_unknown_mode_is_refused(monkeypatch):
    monkeypatch.setenv("NST_TF_CLAIMS", "sometimes")
    with pytest.raises(ValueError, match="NST_TF_CLAIMS"):
        claims.claim("x", True)
