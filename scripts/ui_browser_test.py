"""Drive headless Chromium over the web UI the quickstart serves (see ui_browser_test.sh).

Every number checked on a page is computed independently from the /v4 API's JSON, and the
taglines are the ones the quickstart printed. Fails on any console error."""

import argparse
import json
import re
import sys
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

CHECKS = []


def check(cond, what):
    CHECKS.append(what)
    status = "ok  " if cond else "FAIL"
    print(f"{status} {what}")
    if not cond:
        raise SystemExit(f"browser test failed: {what}")


def api(url, key, path):
    req = urllib.request.Request(url.rstrip("/") + "/v4" + path, headers={"X-API-KEY": key})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.load(resp)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--quickstart-output", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    args = ap.parse_args()
    base = args.url.rstrip("/")

    printed = open(args.quickstart_output, encoding="utf-8").read()
    taglines = re.findall(r"^tagline #\d+ → (.+)$", printed, re.M)
    reference = re.search(r"\(reference (trip-planner-\d+)\)", printed).group(1)
    check(len(taglines) == 2, f"the quickstart printed two taglines: {taglines}")

    # What the API says (the expected numbers).
    logs = api(base, args.key, f"/logs?session_reference_id={reference}&size=100")["records"]
    calls = [l for l in logs if (l.get("config") or {}).get("type") != "tool"]
    steps = [l for l in logs if (l.get("config") or {}).get("type") == "tool"]
    tokens = sum((l.get("prompt_tokens") or 0) + (l.get("output_tokens") or 0) for l in logs)
    streamed = [l for l in logs if "gen_ai.response.time_to_first_chunk" in (l.get("metadata") or {})]
    check(len(streamed) == 1, "the API has one streamed call with a time to first chunk")
    ttft_ms = streamed[0]["metadata"]["gen_ai.response.time_to_first_chunk"] * 1e3

    opts = webdriver.ChromeOptions()
    opts.binary_location = args.chromium
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1440,1000", "--disable-background-networking", "--no-first-run"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(args.chromedriver), options=opts)
    wait = WebDriverWait(driver, 10)

    def console_clean(page):
        errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
        check(not errors, f"{page}: no console error {errors if errors else ''}")

    def shot(name):
        path = f"{args.out}/{name}.png"
        driver.save_screenshot(path)
        print(f"     screenshot {path}")

    try:
        # Login: the server has an API key, so the UI asks for it.
        driver.get(base + "/")
        wait.until(EC.presence_of_element_located((By.ID, "key")))
        check("/login" in driver.current_url, "no cookie: the sessions page sends to the login form")
        field = driver.find_element(By.ID, "key")
        field.send_keys(args.key)
        field.send_keys(Keys.ENTER)
        wait.until(EC.presence_of_element_located((By.ID, "sessions")))
        check(args.key not in driver.page_source, "the key is not in the page")
        check(not driver.execute_script("return document.cookie"), "the login cookie is HttpOnly (invisible to scripts)")
        console_clean("login")

        # Sessions.
        row = driver.find_element(By.XPATH, f"//table[@id='sessions']//tr[.//a[text()='{reference}']]")
        cells = {c.get_attribute("data-calls") is not None and "calls" or
                 c.get_attribute("data-steps") is not None and "steps" or
                 c.get_attribute("data-tokens") is not None and "tokens" or None: c.text
                 for c in row.find_elements(By.TAG_NAME, "td")}
        check(cells.get("calls") == str(len(calls)), f"sessions: {len(calls)} calls ({cells.get('calls')})")
        check(cells.get("steps") == str(len(steps)), f"sessions: {len(steps)} steps ({cells.get('steps')})")
        check(cells.get("tokens").replace("\u202f", "") == str(tokens), f"sessions: {tokens} tokens ({cells.get('tokens')})")
        shot("sessions")
        console_clean("sessions")

        # Keyboard: "/" focuses the search, a search keeps the session; j then Enter opens it.
        body = driver.find_element(By.TAG_NAME, "body")
        body.send_keys("/")
        active = driver.switch_to.active_element
        check(active.get_attribute("name") == "q", "keyboard: / focuses the search box")
        active.send_keys("Sintra", Keys.ENTER)
        wait.until(EC.url_contains("q=Sintra"))
        check(len(driver.find_elements(By.XPATH, f"//a[text()='{reference}']")) == 1, "search 'Sintra' finds the session")
        driver.find_element(By.TAG_NAME, "body").send_keys("j")
        check(driver.switch_to.active_element.text == reference, "keyboard: j focuses the first row")
        driver.switch_to.active_element.send_keys(Keys.ENTER)
        wait.until(EC.presence_of_element_located((By.ID, "tree")))
        console_clean("search")

        # Session: the tree with timings, TTFT, the taglines.
        session_url = driver.current_url
        check(driver.find_element(By.ID, "session-calls").text == str(len(calls)), "session: call count")
        tool_rows = driver.find_elements(By.CSS_SELECTOR, "#tree tr.kind-tool")
        names = [r.find_element(By.CSS_SELECTOR, "td.label a").text for r in tool_rows]
        check(names == ["step research", "step check-weather", "step find-hotel", "step write-taglines"],
              f"session: the four steps in order {names}")
        depths = [r.find_element(By.CSS_SELECTOR, "td.label").get_attribute("class") for r in tool_rows]
        check("depth-1" in depths[1] and "depth-0" in depths[0], "session: check-weather is nested under research")
        model_rows = driver.find_elements(By.CSS_SELECTOR, "#tree tr.kind-model")
        check(len(model_rows) == len(calls), f"session: {len(calls)} call rows")
        durations = [r.find_element(By.CSS_SELECTOR, "td[data-duration]").text for r in model_rows + tool_rows]
        check(all(d.endswith("ms") or d.endswith(" s") for d in durations), f"session: every row has a duration {durations}")
        bars = driver.find_elements(By.CSS_SELECTOR, "#tree rect.bar")
        check(len(bars) == len(logs), "session: one timeline bar per log")
        ttft_cells = [c.text for c in driver.find_elements(By.CSS_SELECTOR, "#tree td[data-ttft]") if c.text]
        check(len(ttft_cells) == 1, f"session: one TTFT shown {ttft_cells}")
        shown = float(ttft_cells[0].split()[0])
        check(abs(shown - ttft_ms) <= 1.0, f"session: TTFT {ttft_cells[0]} matches the API's {ttft_ms:.1f} ms")
        check(len(driver.find_elements(By.CSS_SELECTOR, "#tree rect.ttft")) == 1, "session: the first chunk is marked on the timeline")
        previews = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#tree .preview")]
        for t in taglines:
            check(t in previews, f"session: tagline '{t}' is in the tree")
        shot("session")
        console_clean("session")

        # Log: the streamed call.
        streamed_row = driver.find_element(By.CSS_SELECTOR, f"#tree tr[data-id='{streamed[0]['id']}'] td.label a")
        streamed_row.click()
        wait.until(EC.presence_of_element_located((By.ID, "log-facts")))
        check(driver.find_element(By.ID, "ttft").text == ttft_cells[0], "log: the streamed call's TTFT")
        check(len(driver.find_elements(By.CSS_SELECTOR, "ol.conversation li")) >= 1, "log: the conversation")
        check("Summarise the trip" in driver.page_source, "log: the user's message")
        shot("log")
        console_clean("log")

        # Log: a tagline of the completion call, with its saved config.
        driver.get(session_url)
        tagline_link = driver.find_element(By.XPATH, f"//tr[.//div[@class='preview' and text()=\"{taglines[0]}\"]]//td[contains(@class,'label')]/a")
        tagline_link.click()
        wait.until(EC.presence_of_element_located((By.ID, "output")))
        check(driver.find_element(By.CSS_SELECTOR, "#output .output").text == taglines[0], "log: the tagline is the output")
        config_link = driver.find_element(By.XPATH, "//a[starts-with(@href, '/model-configs/config_')]")
        console_clean("tagline log")
        config_link.click()
        wait.until(EC.presence_of_element_located((By.ID, "config-logs")))
        check(driver.find_element(By.ID, "config-logs").text == str(len(taglines)), "model config: the logs that used it")
        check(len(driver.find_elements(By.XPATH, "//table[@class='rows']//a[starts-with(@href,'/logs/')]")) == len(taglines),
              "model config: one row per tagline")
        console_clean("model config")
        driver.find_element(By.LINK_TEXT, "Model configs").click()
        wait.until(EC.presence_of_element_located((By.ID, "configs")))
        check(len(driver.find_elements(By.CSS_SELECTOR, "#configs tbody tr")) == 1, "model configs: the quickstart's config")
        console_clean("model configs")

        # Project: numbers and charts.
        driver.find_element(By.LINK_TEXT, "Projects").click()
        wait.until(EC.presence_of_element_located((By.ID, "projects")))
        driver.find_element(By.LINK_TEXT, "quickstart").click()
        wait.until(EC.presence_of_element_located((By.ID, "project-facts")))
        check(driver.find_element(By.ID, "project-calls").text == str(len(calls)), "project: calls")
        check(driver.find_element(By.ID, "project-tokens").text.replace("\u202f", "") == str(tokens), "project: tokens")
        check(len(driver.find_elements(By.CSS_SELECTOR, "figure.chart svg")) == 4, "project: four charts")
        check(len(driver.find_elements(By.CSS_SELECTOR, "#chart-calls rect.bar")) >= 1, "project: the calls chart has bars")
        check(len(driver.find_elements(By.CSS_SELECTOR, "#models tbody tr")) >= 1, "project: top models")
        shot("project")
        console_clean("project")

        # Styles and script came from the binary and applied (CSP let them in).
        color = driver.execute_script("return getComputedStyle(document.querySelector('header.top')).borderBottomStyle")
        check(color == "solid", "the stylesheet applies")
    finally:
        driver.quit()
    print(f"browser test passed: {len(CHECKS)} checks")


if __name__ == "__main__":
    sys.exit(main())
