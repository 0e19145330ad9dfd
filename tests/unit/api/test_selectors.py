"""Label selectors with kubectl's grammar and meaning (k8s.io/apimachinery/pkg/labels)."""

import pytest

from dataplane.api.selectors import SelectorError, parse

NONE: dict = {}
APP = {"app": "web"}
APP_PROD = {"app": "web", "env": "prod"}
DEV = {"env": "dev", "tier": "3"}
LABELSETS = [NONE, APP, APP_PROD, DEV]


@pytest.mark.parametrize(("selector", "matching"), [
    ("", [NONE, APP, APP_PROD, DEV]),
    ("app", [APP, APP_PROD]),
    ("!app", [NONE, DEV]),
    ("app=web", [APP, APP_PROD]),
    ("app==web", [APP, APP_PROD]),
    ("app!=web", [NONE, DEV]),  # an absent key is "not equal", as with kubectl
    ("env in (prod,dev)", [APP_PROD, DEV]),
    ("env in (prod)", [APP_PROD]),
    ("env notin (prod)", [NONE, APP, DEV]),  # notin matches objects without the key
    ("env notin (prod,dev)", [NONE, APP]),
    ("app,env", [APP_PROD]),
    ("app=web,env!=prod", [APP]),
    ("app=web, env in (prod, qa)", [APP_PROD]),
    ("!app,env", [DEV]),
    ("tier>2", [DEV]),
    ("tier<3", []),
    ("tier>-1", [DEV]),
    ("env=", []),  # the empty value: present and empty
    ("env!=", [APP_PROD, DEV, NONE, APP]),
    ("  app  =  web  ", [APP, APP_PROD]),
    ("example.com/team", []),
])
def test_matching_follows_kubectl(selector, matching):
    chosen = parse(selector)
    assert [labels for labels in LABELSETS if chosen.matches(labels)] == [m for m in LABELSETS if m in matching]


def test_empty_value_matches_only_empty():
    assert parse("env=").matches({"env": ""}) and not parse("env=").matches({})


def test_in_with_empty_parentheses_is_the_empty_value():
    assert parse("env in ()").matches({"env": ""}) and not parse("env in ()").matches({"env": "x"})


@pytest.mark.parametrize(("selector", "problem"), [
    ("app=web,", "expected: identifier after ','"),
    (",app", "found ',', expected: identifier"),
    ("env in prod", "expected: '('"),
    ("env in (prod", "expected: ')'"),
    ("env in (a b)", "found 'b'"),
    ("env notin", "expected: '('"),
    ("a=b=c", "found '='"),
    ("!app=web", "found '='"),
    ("app ~ web", "found '~'"),
    ("tier>x", "must be an integer"),
    ("tier>" + "9" * 5000, "must be an integer"),
    ("tier<99999999999999999999", "must be an integer"),
    ("tier>", "expected: identifier"),
    ("Bad Key", "found 'Key'"),
    ("-app", 'invalid label key "-app"'),
    ("app=-web", 'invalid label value "-web"'),
    ("a/b/c", 'invalid label key "a/b/c"'),
    ("UPPER.example.com/x", 'invalid label key "UPPER.example.com/x"'),
    ("x" * 64, "at most 63 characters"),
    ("app=" + "v" * 64, "must be 63 characters or less"),
])
def test_what_kubectl_cannot_parse_is_an_error(selector, problem):
    with pytest.raises(SelectorError) as err:
        parse(selector)
    assert str(err.value).startswith("unable to parse requirement: ")
    assert problem in str(err.value)
