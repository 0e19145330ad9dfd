import pytest

from dataplane.api import FieldError, ValidationError


def test_field_error_reads_path_then_message():
    err = FieldError("spec.template.spec.containerConcurrency", "must be between 0 and 1000, got 1001")
    assert str(err) == "spec.template.spec.containerConcurrency: must be between 0 and 1000, got 1001"


def test_validation_error_lists_every_problem_once_in_order():
    a = FieldError("metadata.name", "is required")
    b = FieldError("spec.traffic", "traffic percents sum to 50, want 100")
    exc = ValidationError([a, b, a])
    assert exc.errors == (a, b)
    assert exc.paths == ["metadata.name", "spec.traffic"]
    assert str(exc) == "metadata.name: is required\nspec.traffic: traffic percents sum to 50, want 100"


def test_validation_error_maps_to_kubernetes_invalid():
    exc = ValidationError([FieldError("x", "y")])
    assert (exc.http_status, exc.reason) == (422, "Invalid")


def test_validation_error_needs_a_problem():
    with pytest.raises(ValueError):
        ValidationError([])
