"""The console in headless Chromium (Debian's, driven by its chromedriver) on a real `dataplane up`.

One walk through the page, as a person would: see the sample Service, upload the seed article's
Listing 2 and see revision 2 take the traffic, refuse a split that does not add up to 100 before
sending it, set a 50/50 split with a tag, send a bounded burst and watch the chart's ready pods rise
and come back to zero, see an invalid manifest's field error next to its path, roll back to revision 1
and delete the Service. Screenshots of
each step go to ``$DATAPLANE_TEST_ARTIFACTS`` (default ``test-artifacts/console`` in the checkout).

Marked slow: the walk takes about a minute, most of it waiting for the burst's pods to scale back to
zero; it drives the same engine paths as the other end-to-end tests, so the pure build skips it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service as DriverService
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from dataplane.platform.local.home import read_token
from tests.integration.test_reliability_support import autoscaler_config, host_of
from tests.support import free_port, wait_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "samples" / "knative-example"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = Path(os.environ.get("DATAPLANE_TEST_ARTIFACTS") or ROOT / "test-artifacts" / "console")
BURST_CLIENTS = 8
BURST_ROUNDS = 2
INVALID = """\
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: knative-example
spec:
  template:
    spec:
      containerConcurrency: -1
      containers:
        - image: example/knative-example
          comand: [node, index.js]
"""


class Up:
    """A `dataplane up` on free ports in a fresh home; the API called as the CLI calls it."""

    def __init__(self, tmp_path: Path):
        self.home = tmp_path / "home"
        self.port, self.api_port = free_port(), free_port()
        self.log = open(tmp_path / "up.out", "wb")  # noqa: SIM115 - closed in stop()
        argv = [sys.executable, "-m", "dataplane", "up", "--port", str(self.port), "--api-port", str(self.api_port), "--home", str(self.home)]
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_port(self.api_port, timeout=30, proc=self.proc)
        wait_port(self.port, timeout=30, proc=self.proc)
        self.url = f"http://127.0.0.1:{self.api_port}/"
        self.printed = self._console_line()

    def _console_line(self) -> str:
        """The console's address as `dataplane up` printed it (with this start's token in the fragment)."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for line in Path(self.log.name).read_text(errors="replace").splitlines():
                if line.startswith("console: "):
                    return line.removeprefix("console: ")
            time.sleep(0.1)
        raise AssertionError("dataplane up printed no console address")

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        headers = {"Authorization": f"Bearer {read_token(self.home)}", "Content-Type": "application/json"}
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{self.api_port}{path}", data=data, method=method, headers=headers)
        with urllib.request.urlopen(request, timeout=30) as resp:
            return json.loads(resp.read())

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.log.close()
        return Path(self.log.name).read_text(errors="replace")


def browser() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,2000",
                 "--no-first-run", "--disable-extensions", "--disable-background-networking"):
        options.add_argument(flag)
    # the system's chromedriver, named: no driver or browser is downloaded
    return webdriver.Chrome(service=DriverService(CHROMEDRIVER), options=options)


def request(port: int, host: str) -> int:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/", headers={"Host": host})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            resp.read()
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def wait(driver, what: str, predicate, timeout: float = 60.0):
    """``predicate(driver)`` until truthy; the failure says what was awaited and shows the page."""
    try:
        # the page redraws a table when its data changes: an element found just before is then stale
        waiter = WebDriverWait(driver, timeout, poll_frequency=0.2, ignored_exceptions=(StaleElementReferenceException,))
        return waiter.until(lambda d: predicate(d))
    except Exception as exc:
        shot(driver, "failed")
        raise AssertionError(f"waited {timeout:g} s for {what}; the page said:\n{driver.find_element(By.TAG_NAME, 'body').text[:4000]}") from exc


def shot(driver, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def click(driver, css: str) -> None:
    """Click what ``css`` finds, found again if the page redrew it meanwhile."""
    wait(driver, f"{css} clicked", lambda d: d.find_element(By.CSS_SELECTOR, css).click() or True, timeout=10)


def text_of(driver, css: str) -> str:
    found = driver.find_elements(By.CSS_SELECTOR, css)
    return " ".join(e.text for e in found)


def chart(driver, revision: str) -> dict:
    figure = driver.find_elements(By.CSS_SELECTOR, f'figure.chart[data-revision="{revision}"]')
    if not figure:
        return {}
    return {"ready": figure[0].get_attribute("data-ready"), "max": figure[0].get_attribute("data-max-ready")}


def test_console_walkthrough(tmp_path):
    up = Up(tmp_path)
    driver = None
    try:
        # what ./dev.sh up does: the sample Service, applied from its folder; scaling windows shortened, at most 3 pods
        up.call("POST", "/v1/apply", {"documents": [autoscaler_config(**{"max-scale": "3"})]})
        listing1 = (SAMPLE / "app.yaml").read_text()
        up.call("POST", "/v1/apply", {"manifest": listing1, "source": "app.yaml", "workingDir": str(SAMPLE)})
        try:
            driver = browser()
        except WebDriverException as exc:
            raise AssertionError(f"Chromium did not start ({exc.msg}): ./dev.sh installs chromium and chromium-driver") from exc
        driver.set_page_load_timeout(30)

        # the address dataplane up printed: the token in its fragment goes to the tab's storage, out of the address bar
        assert up.printed == f"{up.url}#token={read_token(up.home)}"
        driver.get(up.printed)
        wait(driver, "the token out of the address bar", lambda d: d.current_url == up.url + "#/", timeout=10)
        # the list, as `get ksvc` shows it
        row = 'table#services tr[data-name="knative-example"]'
        wait(driver, "the sample Service, Ready", lambda d: "True" in text_of(d, row), timeout=90)
        assert "http://knative-example.default.example.com" in text_of(driver, row)
        shot(driver, "1-services")

        # its page; Listing 2 uploaded as a file, revision 2 takes the traffic
        driver.find_element(By.LINK_TEXT, "knative-example").click()
        wait(driver, "the service page", lambda d: "knative-example-00001" in text_of(d, "table#revisions"))
        driver.find_element(By.ID, "apply-file").send_keys(str(SAMPLE / "app-cc1.yaml"))
        wait(driver, "the file read into the text area", lambda d: "containerConcurrency: 1" in d.find_element(By.ID, "apply-text").get_attribute("value"))
        driver.find_element(By.ID, "apply-button").click()
        wait(driver, "apply's result", lambda d: "is ready at http://knative-example.default.example.com" in text_of(d, "#apply-result"), timeout=90)
        assert "service.serving.knative.dev/knative-example configured" in text_of(driver, "#apply-result")
        rev2 = 'table#revisions tr[data-revision="knative-example-00002"]'
        wait(driver, "revision 2 with all the traffic", lambda d: "100%" in text_of(d, f"{rev2} td.traffic"))
        assert text_of(driver, f"{rev2} td")[:60].split()[:3] == ["knative-example-00002", "100%", "1"]
        shot(driver, "2-listing2-applied")

        # a split: one that does not add up is refused on the page, before anything is sent
        wait(driver, "the traffic form", lambda d: d.find_elements(By.CSS_SELECTOR, "#traffic-form tr.traffic-row"))
        generation = up.call("GET", "/v1/services/default/knative-example")["metadata"]["generation"]
        first = driver.find_element(By.CSS_SELECTOR, "#traffic-form tr.traffic-row")
        Select(first.find_element(By.CSS_SELECTOR, ".t-target")).select_by_value("knative-example-00001")
        percent = first.find_element(By.CSS_SELECTOR, ".t-percent")
        percent.clear()
        percent.send_keys("50")
        driver.find_element(By.ID, "traffic-add").click()
        second = driver.find_elements(By.CSS_SELECTOR, "#traffic-form tr.traffic-row")[-1]
        Select(second.find_element(By.CSS_SELECTOR, ".t-target")).select_by_value("knative-example-00002")
        field = second.find_element(By.CSS_SELECTOR, ".t-percent")
        field.clear()
        field.send_keys("40")
        second.find_element(By.CSS_SELECTOR, ".t-tag").send_keys("v2")
        driver.find_element(By.ID, "traffic-submit").click()
        wait(driver, "the sum refused", lambda d: "add up to 90, not 100" in text_of(d, "#traffic-errors"), timeout=5)
        assert up.call("GET", "/v1/services/default/knative-example")["metadata"]["generation"] == generation
        # now 50/50, sent
        field.clear()
        field.send_keys("50")
        driver.find_element(By.ID, "traffic-submit").click()
        wait(driver, "the split applied", lambda d: "is ready at" in text_of(d, "#service-result"), timeout=60)
        rev1 = 'table#revisions tr[data-revision="knative-example-00001"]'
        wait(driver, "50% each", lambda d: "50%" in text_of(d, f"{rev1} td.traffic") and "50%" in text_of(d, f"{rev2} td.traffic"))
        assert "v2: http://v2-knative-example.default.example.com" in text_of(driver, rev2)
        traffic = up.call("GET", "/v1/services/default/knative-example")["status"]["traffic"]
        assert sorted((t["revisionName"], t["percent"], t.get("tag")) for t in traffic) == [
            ("knative-example-00001", 50, None), ("knative-example-00002", 50, "v2")]

        # a bounded burst: the chart of revision 2 shows its ready pods rise, then all of it goes back to zero
        with ThreadPoolExecutor(BURST_CLIENTS) as pool:
            answers = list(pool.map(lambda _: request(up.port, host_of("knative-example")), range(BURST_CLIENTS * BURST_ROUNDS)))
        assert answers == [200] * len(answers), answers
        wait(driver, "revision 2's chart showing more than one ready pod", lambda d: int(chart(d, "knative-example-00002").get("max") or 0) >= 2, timeout=30)
        # latency is read from the queue-proxies while the chart is open
        wait(driver, "revision 2's p50 and p99 latency lines", lambda d: d.find_elements(
            By.CSS_SELECTOR, 'figure.chart[data-revision="knative-example-00002"] polyline.line-p99'), timeout=10)
        shot(driver, "3-burst")
        wait(driver, "both revisions back at zero ready pods in their charts",
             lambda d: chart(d, "knative-example-00002").get("ready") == "0" and chart(d, "knative-example-00001").get("ready") == "0",
             timeout=90)
        assert "No pods" in text_of(driver, "table#pods")
        events = text_of(driver, "#events")
        assert "pod knative-example-00002-deployment-" in events and "stopped: scaled down (drained)" in events, events
        driver.execute_script("document.querySelector('figure.chart').scrollIntoView()")
        shot(driver, "4-back-to-zero")
        driver.execute_script("window.scrollTo(0, 0)")
        shot(driver, "service-page")  # the README's picture (docs/console.png)

        # an invalid manifest typed in: its field errors next to their paths, nothing applied
        area = driver.find_element(By.ID, "apply-text")
        area.clear()
        area.send_keys(INVALID)
        driver.find_element(By.ID, "apply-button").click()
        wait(driver, "the field errors", lambda d: d.find_elements(By.CSS_SELECTOR, "#apply-result tr.field-error-row"), timeout=10)
        errors = {r.find_elements(By.TAG_NAME, "td")[0].text: r.find_elements(By.TAG_NAME, "td")[1].text
                  for r in driver.find_elements(By.CSS_SELECTOR, "#apply-result tr.field-error-row")}
        assert 'did you mean "command"' in errors.get("spec.template.spec.containers[0].comand", ""), errors
        assert "spec.template.spec.containerConcurrency" in errors, errors
        assert "Error from server: the resources are invalid; nothing was applied" in text_of(driver, "#apply-result")
        driver.execute_script("document.getElementById('apply-result').scrollIntoView()")
        shot(driver, "5-field-errors")
        assert up.call("GET", "/v1/services/default/knative-example")["spec"]["template"]["spec"]["containerConcurrency"] == 1

        # roll back: all traffic to revision 1, its tag kept off; then delete, confirmed in the browser's dialog
        click(driver, 'button.rollback[data-revision="knative-example-00001"]')
        wait(driver, "revision 1 with all the traffic", lambda d: "100%" in text_of(d, f"{rev1} td.traffic") and "0%" in text_of(d, f"{rev2} td.traffic"))
        traffic = up.call("GET", "/v1/services/default/knative-example")["spec"]["traffic"]
        assert traffic == [{"revisionName": "knative-example-00001", "latestRevision": False, "percent": 100}], traffic
        driver.find_element(By.ID, "delete-service").click()
        wait(driver, "the confirmation", lambda d: d.switch_to.alert, timeout=5).accept()
        wait(driver, "delete's result", lambda d: 'service.serving.knative.dev "knative-example" deleted' in text_of(d, "#service-result"), timeout=10)
        wait(driver, "the page saying it is gone", lambda d: "does not exist" in text_of(d, "#service-ready"), timeout=10)
    finally:
        if driver is not None:
            driver.quit()
        output = up.stop()
