"""The suite's leak guards catch what they claim to (run through pytester)."""

pytest_plugins = ["pytester"]

from pathlib import Path

CONFTEST = (Path(__file__).parents[2] / "conftest.py").read_text()
OPTS = ("-p", "no:cacheprovider", "-o", "asyncio_mode=auto", "-o", "asyncio_default_fixture_loop_scope=function")


def test_leaked_task_fails_the_test(pytester):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        """
        import asyncio

        async def test_leaks():
            asyncio.get_running_loop().create_task(asyncio.sleep(30))
        """
    )
    result = pytester.runpytest(*OPTS)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*leaked asyncio tasks*"])


def test_leaked_child_process_fails_the_test(pytester):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        """
        import subprocess

        def test_leaks():
            subprocess.Popen(["sleep", "30"])
        """
    )
    result = pytester.runpytest(*OPTS, "-W", "ignore::ResourceWarning")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*leaked child processes*"])


def test_clean_tests_pass(pytester):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        """
        import asyncio, subprocess

        async def test_clean_async():
            await asyncio.sleep(0)

        def test_clean_process():
            subprocess.run(["true"], check=True)
        """
    )
    result = pytester.runpytest(*OPTS)
    result.assert_outcomes(passed=2)
