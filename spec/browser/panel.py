#!/usr/bin/env python3
"""The panel in headless Chromium over W3C WebDriver, and its /metrics
scraped by a real Prometheus.

Run by spec/browser/run with the panel's nginx up (PANEL_BASE), the
sandbox of spec/run (ENOM_SANDBOX_*) and the owners' passwords in the
environment. Starts chromedriver (selenium's Service, a free loopback
port), Chromium with a new empty profile, Prometheus (its own data
folder, a free loopback port) and a second origin for the cross-origin
form; stops all of them at the end, also on failure. Prints
"ok - ..." / "not ok - ..." lines (the runner numbers them) and "# ..."
details. Screenshots of each step go to PANEL_SCREENSHOTS.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

BASE = os.environ["PANEL_BASE"]
DIR = os.environ["PANEL_DIR"]
SHOTS = os.environ["PANEL_SCREENSHOTS"]
ADMIN = os.environ["ENOM_SANDBOX_ADMIN"]
ACCOUNT_PW = os.environ["ENOM_PW"]
OWNER_PW = {
    "ann": os.environ["PANEL_ANN_PW"],
    "bob": os.environ["PANEL_BOB_PW"],
    "carol": os.environ["PANEL_CAROL_PW"],
}

DESKTOP = (1280, 900)
PHONE = (390, 844)
WAIT = 60  # seconds a page may take at most (eNom's sandbox answers in ms)

# Every page the browser showed: (step, html, passwords it was meant to show).
PAGES = []
# Every secret the checks know of, for the log checks at the end.
SECRETS = set(OWNER_PW.values()) | {ACCOUNT_PW}
failures = 0


def tap(ok, name, detail=None):
    global failures
    print(("ok - " if ok else "not ok - ") + name)
    if not ok:
        failures += 1
    if detail:
        for line in str(detail).rstrip().splitlines():
            print("# " + line)
    sys.stdout.flush()


def check(name):
    def run(fn):
        try:
            fn()
        except Exception:  # a failed check is reported, the next ones still run
            tap(False, name, traceback.format_exc(limit=3))
        else:
            tap(True, name)
        return fn
    return run


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http(method, url, data=None, headers=None):
    """status, body, headers; no redirect is followed."""
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None
    body = urllib.parse.urlencode(data).encode() if isinstance(data, dict) else data
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(req, timeout=WAIT) as r:
            return r.status, r.read().decode(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), e.headers


def sandbox_state():
    return json.loads(http("GET", ADMIN + "/state")[1])


def sandbox_mailboxes(domain):
    for d in sandbox_state()["domains"]:
        if d["name"] == domain:
            return {m["username"]: m for m in (d.get("mailboxes") or [])}, d.get("paks") or []
    raise AssertionError("no domain " + domain + " in the sandbox")


def sandbox_domain(domain):
    for d in sandbox_state()["domains"]:
        if d["name"] == domain:
            return d
    raise AssertionError("no domain " + domain + " in the sandbox")


def sandbox_received(command):
    c = json.loads(http("GET", ADMIN + "/counters")[1])["commands"].get(command)
    return c["received"] if c else 0


def forward_row(mailbox):
    return driver.find_element(By.CSS_SELECTOR, 'li.box[data-mailbox="%s"]' % mailbox)


def all_sandbox_passwords():
    out = set()
    for d in sandbox_state()["domains"]:
        for m in d.get("mailboxes") or []:
            if m.get("password"):
                out.add(m["password"])
    return out


# ---- the browser -------------------------------------------------------

driver = None
service = None
shot_n = 0


def start_browser():
    global driver, service
    profile = os.path.join(DIR, "chromium-profile")
    shutil.rmtree(profile, ignore_errors=True)
    os.makedirs(profile)
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--user-data-dir=" + profile,
                 "--window-size=%d,%d" % DESKTOP):
        opts.add_argument(flag)
    # chromedriver's own log would quote every key typed: none is kept.
    service = Service(executable_path=shutil.which("chromedriver"), log_path=os.devnull)
    driver = webdriver.Chrome(service=service, options=opts)
    driver.set_page_load_timeout(WAIT)


def shot(name, size=DESKTOP):
    global shot_n
    shot_n += 1
    if size != DESKTOP:
        driver.set_window_size(*size)
    driver.save_screenshot(os.path.join(SHOTS, "%02d-%s.png" % (shot_n, name)))
    if size != DESKTOP:
        driver.set_window_size(*DESKTOP)


def seen(step, shown=()):
    """Keep the current page for the check that no page holds a password
    read from eNom; `shown` are the passwords this page was meant to show."""
    PAGES.append((step, driver.page_source, set(shown)))


def go(path):
    driver.get(BASE + path)


def submit(button):
    """Click a form's button and wait for the next page."""
    old = driver.find_element(By.TAG_NAME, "html")
    button.click()

    def replaced(d):
        try:
            old.tag_name  # raises once the page it belongs to is gone
        except WebDriverException:
            return d.execute_script("return document.readyState") == "complete"
        return False
    WebDriverWait(driver, WAIT).until(replaced)


def fill(field_id, text):
    el = driver.find_element(By.ID, field_id)
    el.clear()
    el.send_keys(text)
    return el


def text_of(selector):
    return driver.find_element(By.CSS_SELECTOR, selector).text


def login(owner, password):
    go("/login")
    fill("owner", owner)
    fill("password", password)
    submit(driver.find_element(By.CSS_SELECTOR, "#login-form button[type=submit]"))


def logout():
    submit(driver.find_element(By.CSS_SELECTOR, "form.logout button"))


def body_text():
    return driver.find_element(By.TAG_NAME, "body").text


# ---- the other origin --------------------------------------------------

class Blank(BaseHTTPRequestHandler):
    def do_GET(self):
        page = b"<!DOCTYPE html><title>another site</title><p>another origin</p>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, *args):
        pass


# ---- Prometheus --------------------------------------------------------

prom = None
PROM_PORT = None


def start_prometheus():
    global prom, PROM_PORT
    PROM_PORT = free_port()
    data = os.path.join(DIR, "prometheus-data")
    os.makedirs(data, exist_ok=True)
    target = urllib.parse.urlparse(BASE).netloc
    conf = os.path.join(DIR, "prometheus.yml")
    with open(conf, "w") as f:
        f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                "scrape_configs:\n  - job_name: panel\n    static_configs:\n"
                "      - targets: ['%s']\n" % target)
    log = open(os.path.join(DIR, "logs", "prometheus.log"), "w")
    prom = subprocess.Popen(
        ["prometheus", "--config.file=" + conf, "--storage.tsdb.path=" + data,
         "--web.listen-address=127.0.0.1:%d" % PROM_PORT, "--log.level=warn"],
        stdout=log, stderr=subprocess.STDOUT)


def prom_query(q):
    try:
        status, body, _ = http("GET", "http://127.0.0.1:%d/api/v1/query?%s" % (
            PROM_PORT, urllib.parse.urlencode({"query": q})))
    except (urllib.error.URLError, OSError):
        return None  # not listening yet
    if status != 200:
        return None
    doc = json.loads(body)
    result = doc.get("data", {}).get("result", [])
    return float(result[0]["value"][1]) if result else None


def panel_metrics():
    status, body, headers = http("GET", BASE + "/metrics")
    assert status == 200, "GET /metrics: HTTP %d" % status
    values = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            series, value = line.rsplit(" ", 1)
            values[series] = float(value)
    return values, body, headers


# ---- the checks --------------------------------------------------------

ann_csrf = None
zoe_password = None


def main():
    start_prometheus()
    start_browser()
    evil = ThreadingHTTPServer(("127.0.0.1", 0), Blank)
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    evil_base = "http://127.0.0.1:%d" % evil.server_address[1]
    try:
        run_checks(evil_base)
    finally:
        evil.shutdown()


def run_checks(evil_base):
    http("POST", ADMIN + "/reset", b"")

    @check("the login page carries a CSP without inline script, no-store, nosniff, framing denied, "
           "and its pre-login cookie is HttpOnly and SameSite=Strict")
    def _():
        status, body, h = http("GET", BASE + "/login")
        assert status == 200, status
        csp = h["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp, csp
        assert h["Cache-Control"] == "no-store" and h["X-Content-Type-Options"] == "nosniff", dict(h)
        cookie = h["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie, cookie
        for tag in re.findall(r"<script[^>]*>", body):
            assert "src=" in tag, "an inline script: " + tag
        assert not re.search(r"\son[a-z]+=", body), "an inline event handler"

    @check("ann logs in with a fixed session cookie planted beforehand: she gets a new session id, "
           "HttpOnly and SameSite=Strict")
    def _():
        go("/login")
        planted = "ab" * 32
        driver.add_cookie({"name": "panel", "value": planted, "path": "/"})
        shot("login")
        seen("login")
        fill("owner", "ann")
        fill("password", OWNER_PW["ann"])
        submit(driver.find_element(By.CSS_SELECTOR, "#login-form button[type=submit]"))
        cookie = driver.get_cookie("panel")
        assert cookie and cookie["value"] != planted, cookie
        assert cookie["httpOnly"] is True and cookie.get("sameSite") == "Strict", cookie
        assert "Your domains" in body_text(), body_text()
        shot("domains")
        seen("domains")

    @check("ann sees resellerdocs.com's mailboxes, admin flag and free slots, and no password read from eNom")
    def _():
        global ann_csrf
        driver.find_element(By.LINK_TEXT, "resellerdocs.com").click()
        WebDriverWait(driver, WAIT).until(EC.presence_of_element_located((By.ID, "mailboxes")))
        names = [e.get_attribute("data-mailbox") for e in driver.find_elements(By.CSS_SELECTOR, "li.box")]
        assert names == ["james", "support"], names
        assert "admin" in driver.find_element(By.CSS_SELECTOR, 'li.box[data-mailbox="james"]').text
        free = driver.find_element(By.ID, "free-slots")
        assert free.get_attribute("data-free") == "8" and free.text == "8 free slots", free.text
        html = driver.page_source
        for pw in all_sandbox_passwords():
            assert pw not in html, "a mailbox password is on the page"
        ann_csrf = driver.find_element(By.CSS_SELECTOR, "#create-form input[name=csrf]").get_attribute("value")
        shot("mailboxes")
        shot("mailboxes-phone", PHONE)
        seen("list")

    @check("a typed password that breaks eNom's rule gets a clear message, and nothing is created")
    def _():
        fill("username", "yan")
        fill("new-password", "abc")
        submit(driver.find_element(By.CSS_SELECTOR, "#create-form button[type=submit]"))
        assert "10 to 20 characters" in text_of("#form-error"), text_of("#form-error")
        fill("new-password", "abcdefgh12")
        submit(driver.find_element(By.CSS_SELECTOR, "#create-form button[type=submit]"))
        msg = text_of("#form-error")
        assert "needs at least one upper-case letter" in msg, msg
        fill("new-password", "Abc def 12x")
        submit(driver.find_element(By.CSS_SELECTOR, "#create-form button[type=submit]"))
        assert "a character the rule does not allow" in text_of("#form-error"), text_of("#form-error")
        assert driver.find_element(By.ID, "username").get_attribute("value") == "yan"
        shot("password-rule")
        seen("rule")
        assert "yan" not in sandbox_mailboxes("resellerdocs.com")[0]

    @check("creating a mailbox shows its generated password once, the one eNom now has, with a copy button")
    def _():
        global zoe_password
        go("/d/resellerdocs.com/")
        fill("username", "zoe")
        fill("display_name", "Zoë Brown")
        submit(driver.find_element(By.CSS_SELECTOR, "#create-form button[type=submit]"))
        assert text_of("h1") == "Mailbox created", text_of("h1")
        zoe_password = text_of("#password-value")
        SECRETS.add(zoe_password)
        have, _ = sandbox_mailboxes("resellerdocs.com")
        assert have["zoe"]["password"] == zoe_password, "the page shows another password than eNom has"
        assert re.fullmatch(r"[A-Za-z0-9*@\-_/.]{16}", zoe_password), "not by eNom's Basic email rule"
        button = driver.find_element(By.CSS_SELECTOR, "button[data-copy]")
        assert button.is_displayed()
        button.click()
        # The clipboard answers asynchronously.
        WebDriverWait(driver, WAIT).until(lambda _: button.text in ("Copied", "Selected: press Ctrl+C"))
        shot("created")
        shot("created-phone", PHONE)
        seen("created", [zoe_password])
        # Once: the list and every later page leave it out.
        driver.find_element(By.ID, "back").click()
        WebDriverWait(driver, WAIT).until(EC.presence_of_element_located((By.ID, "mailboxes")))
        assert zoe_password not in driver.page_source
        seen("list after create")

    @check("a typed password by the rule creates the mailbox and is never shown back")
    def _():
        fill("username", "yan")
        fill("new-password", "Typed4-Pass")
        SECRETS.add("Typed4-Pass")
        submit(driver.find_element(By.CSS_SELECTOR, "#create-form button[type=submit]"))
        assert text_of("h1") == "Mailbox created" and "password you typed" in body_text(), body_text()
        assert "Typed4-Pass" not in driver.page_source
        assert sandbox_mailboxes("resellerdocs.com")[0]["yan"]["password"] == "Typed4-Pass"
        seen("typed")

    @check("resetting a password shows the new one once, and eNom has it")
    def _():
        go("/d/resellerdocs.com/")
        box = driver.find_element(By.CSS_SELECTOR, 'li.box[data-mailbox="zoe"]')
        box.find_element(By.TAG_NAME, "summary").click()
        shot("reset-form")
        submit(box.find_element(By.CSS_SELECTOR, "form.reset button"))
        assert text_of("h1") == "Password changed", text_of("h1")
        new = text_of("#password-value")
        SECRETS.add(new)
        assert new != zoe_password
        assert sandbox_mailboxes("resellerdocs.com")[0]["zoe"]["password"] == new
        shot("reset")
        seen("reset", [new])

    @check("deleting asks for the name: the button waits for it, a wrong name deletes nothing, the right one deletes")
    def _():
        go("/d/resellerdocs.com/")
        driver.find_element(By.LINK_TEXT, "Delete zoe…").click()
        WebDriverWait(driver, WAIT).until(EC.presence_of_element_located((By.ID, "confirm")))
        button = driver.find_element(By.CSS_SELECTOR, "#delete-form button[type=submit]")
        assert not button.is_enabled(), "the delete button works before the name is typed"
        shot("delete-confirm")
        seen("delete form")
        # The server checks the name too: a wrong one with the button forced on.
        fill("confirm", "zo")
        driver.execute_script("arguments[0].disabled = false", button)
        submit(button)
        assert "Nothing was deleted" in text_of("#form-error"), body_text()
        assert "zoe" in sandbox_mailboxes("resellerdocs.com")[0]
        fill("confirm", "zoe")
        button = driver.find_element(By.CSS_SELECTOR, "#delete-form button[type=submit]")
        assert button.is_enabled()
        submit(button)
        assert "zoe@resellerdocs.com was deleted." in text_of(".flash"), body_text()
        assert "zoe" not in sandbox_mailboxes("resellerdocs.com")[0]
        shot("deleted")
        seen("deleted")

    @check("ann adds a forward to a mailbox and sees it waiting for the recipient's approval; "
           "the domain's other forwards stay as they are")
    def _():
        before = sandbox_domain("resellerdocs.com")["forwarding"]
        go("/d/resellerdocs.com/")
        driver.find_element(By.ID, "to-forwards").click()
        WebDriverWait(driver, WAIT).until(EC.presence_of_element_located((By.ID, "forwards")))
        james = forward_row("james")
        assert james.get_attribute("data-state") == "forwarding", james.text
        assert "james.doe@example.net" in james.text and "Forwarding" in james.text, james.text
        assert forward_row("support").get_attribute("data-state") == "none"
        sent = sandbox_received("SetPOPForwarding")
        Select(driver.find_element(By.ID, "mailbox")).select_by_value("support")
        fill("forward_to", "desk@example.net")
        assert driver.find_element(By.ID, "keep_copy").is_selected()
        submit(driver.find_element(By.CSS_SELECTOR, "#forward-form button[type=submit]"))
        flash = text_of(".flash")
        assert "desk@example.net approves it" in flash and "24 hours" in flash, flash
        row = forward_row("support")
        assert row.get_attribute("data-state") == "pending", row.text
        assert "Waiting for the recipient's approval" in row.text and "desk@example.net" in row.text, row.text
        assert forward_row("james").get_attribute("data-state") == "forwarding"
        have, _ = sandbox_mailboxes("resellerdocs.com")
        assert have["support"]["forward_to"] == "desk@example.net" and have["support"]["forward_state"] == "pending"
        assert have["support"]["forward_flags"] == "0", have["support"]  # a copy kept
        assert have["james"]["forward_to"] == "james.doe@example.net" and have["james"]["forward_state"] == "approved"
        assert sandbox_domain("resellerdocs.com")["forwarding"] == before
        assert sandbox_received("SetPOPForwarding") == sent + 1
        shot("forward-pending")
        shot("forward-pending-phone", PHONE)
        seen("forward pending")
        # The same forward again: nothing is sent (it could ask the recipient again).
        Select(driver.find_element(By.ID, "mailbox")).select_by_value("support")
        fill("forward_to", "desk@example.net")
        submit(driver.find_element(By.CSS_SELECTOR, "#forward-form button[type=submit]"))
        assert forward_row("support").get_attribute("data-state") == "pending"
        assert sandbox_received("SetPOPForwarding") == sent + 1

    @check("once the recipient approves, the forward shows as forwarding; removing it leaves the others")
    def _():
        http("POST", ADMIN + "/forwards/approve",
             json.dumps({"domain": "resellerdocs.com", "address": "support", "mailbox": True}).encode(),
             {"Content-Type": "application/json"})
        go("/d/resellerdocs.com/forwards")
        row = forward_row("support")
        assert row.get_attribute("data-state") == "forwarding", row.text
        submit(row.find_element(By.CSS_SELECTOR, "form.remove button"))
        assert "support@resellerdocs.com no longer forwards" in text_of(".flash"), body_text()
        assert forward_row("support").get_attribute("data-state") == "none"
        assert forward_row("james").get_attribute("data-state") == "forwarding"
        have, _ = sandbox_mailboxes("resellerdocs.com")
        assert have["support"]["forward_to"] == "" and have["james"]["forward_to"] == "james.doe@example.net"
        shot("forward-removed")
        seen("forward removed")

    @check("a forward to something that is not an address is refused with a message, and nothing is sent")
    def _():
        go("/d/resellerdocs.com/forwards")
        sent = sandbox_received("SetPOPForwarding")
        # The browser's own check of type=email is lifted: the server checks too.
        driver.execute_script("document.getElementById('forward_to').type = 'text'")
        Select(driver.find_element(By.ID, "mailbox")).select_by_value("support")
        fill("forward_to", "not-an-address")
        submit(driver.find_element(By.CSS_SELECTOR, "#forward-form button[type=submit]"))
        assert "not an e-mail address" in text_of("#form-error"), body_text()
        assert driver.find_element(By.ID, "forward_to").get_attribute("value") == "not-an-address"
        assert sandbox_received("SetPOPForwarding") == sent
        seen("forward refused")

    @check("ann sees and sets the domain's catch-all")
    def _():
        go("/d/resellerdocs.com/forwards")
        driver.find_element(By.ID, "to-catchall").click()
        WebDriverWait(driver, WAIT).until(EC.presence_of_element_located((By.ID, "catchall-form")))
        assert "james@resellerdocs.com" in text_of("#catchall-now"), text_of("#catchall-now")
        fill("catchall-to", "office@example.org")
        submit(driver.find_element(By.CSS_SELECTOR, "#catchall-form button[type=submit]"))
        assert "now goes to office@example.org" in text_of(".flash"), body_text()
        assert "office@example.org" in text_of("#catchall-now")
        assert sandbox_domain("resellerdocs.com")["catch_all"] == "office@example.org"
        shot("catchall")
        seen("catchall")

    @check("with no free slot and no right to buy, creating says so and buys nothing")
    def _():
        go("/d/shop01.com/")
        fill("username", "ann")
        submit(driver.find_element(By.CSS_SELECTOR, "#create-form button[type=submit]"))
        assert "buying more is not enabled" in text_of("#form-error"), body_text()
        have, paks = sandbox_mailboxes("shop01.com")
        assert not have and not paks, (have, paks)
        shot("blocked")
        seen("blocked")

    @check("a form posted without its CSRF token is refused, and changes nothing")
    def _():
        go("/d/resellerdocs.com/")
        driver.execute_script("document.querySelector('#create-form input[name=csrf]').remove()")
        fill("username", "nocsrf")
        submit(driver.find_element(By.CSS_SELECTOR, "#create-form button[type=submit]"))
        assert text_of("h1") == "Refused" and "security token" in body_text(), body_text()
        assert "nocsrf" not in sandbox_mailboxes("resellerdocs.com")[0]
        shot("csrf-refused")
        seen("csrf")

    @check("a form posted from another origin (same site, other port: the session cookie goes along) is refused, "
           "even with the right token")
    def _():
        driver.get(evil_base + "/")
        driver.execute_script("""
            var f = document.createElement('form');
            f.method = 'post';
            f.action = arguments[0] + '/d/resellerdocs.com/create';
            [['csrf', arguments[1]], ['username', 'evil']].forEach(function (p) {
              var i = document.createElement('input');
              i.type = 'hidden'; i.name = p[0]; i.value = p[1]; f.appendChild(i);
            });
            document.body.appendChild(f);
            f.submit();""", BASE, ann_csrf)
        WebDriverWait(driver, WAIT).until(lambda d: d.current_url.startswith(BASE))
        WebDriverWait(driver, WAIT).until(EC.presence_of_element_located((By.TAG_NAME, "h1")))
        assert text_of("h1") == "Refused" and "own pages" in body_text(), body_text()
        assert "evil" not in sandbox_mailboxes("resellerdocs.com")[0]
        shot("origin-refused")
        seen("origin")

    @check("bob cannot reach ann's domain by editing the URL or a form's target")
    def _():
        go("/d/resellerdocs.com/")
        logout()
        login("bob", OWNER_PW["bob"])
        assert driver.current_url == BASE + "/d/shop02.com/", driver.current_url
        seen("bob list")
        for path in ("/d/resellerdocs.com/", "/d/RESELLERDOCS.COM/", "/d/resellerdocs.com/delete?mailbox=james",
                     "/d/resellerdocs.com/forwards", "/d/resellerdocs.com/catchall"):
            go(path)
            assert "not one of yours" in body_text(), path + ": " + body_text()
            assert "james" not in driver.page_source, path
            seen("tamper " + path)
        shot("other-domain")
        go("/d/shop02.com/")
        driver.execute_script(
            "document.getElementById('create-form').action = '/d/resellerdocs.com/create'")
        fill("username", "tamper")
        submit(driver.find_element(By.CSS_SELECTOR, "#create-form button[type=submit]"))
        assert "not one of yours" in body_text(), body_text()
        assert "tamper" not in sandbox_mailboxes("resellerdocs.com")[0]
        seen("tamper post")

    @check("bob, whose policy allows one pak, creates a mailbox on an empty domain: one pak is bought")
    def _():
        go("/d/shop02.com/")
        assert "may buy up to 1 pak" in text_of("#summary"), text_of("#summary")
        fill("username", "info")
        submit(driver.find_element(By.CSS_SELECTOR, "#create-form button[type=submit]"))
        assert text_of("h1") == "Mailbox created" and "1 pak(s)" in body_text(), body_text()
        pw = text_of("#password-value")
        SECRETS.add(pw)
        have, paks = sandbox_mailboxes("shop02.com")
        assert have["info"]["password"] == pw and len(paks) == 1, (list(have), paks)
        shot("bought")
        seen("bought", [pw])
        logout()

    @check("the 6th wrong login within a minute is refused, and so is then the right password")
    def _():
        for i in range(5):
            login("carol", "wrong-%d" % i)
            assert "Wrong owner name or password." in text_of("#login-error"), body_text()
        login("carol", "wrong-5")
        assert "Too many failed logins" in text_of("#login-error"), body_text()
        shot("locked")
        login("carol", OWNER_PW["carol"])
        assert "Too many failed logins" in text_of("#login-error"), body_text()
        assert driver.get_cookie("panel") is None

    @check("Prometheus scrapes the panel's /metrics and its query API returns the counts the panel shows")
    def _():
        values, _, _ = panel_metrics()
        want = {
            'enom_provision_actions_total{action="create",result="created"}': 3.0,
            'enom_provision_actions_total{action="create",result="blocked"}': 1.0,
            'enom_provision_actions_total{action="paks",result="bought"}': 1.0,
            'enom_provision_actions_total{action="delete",result="deleted"}': 1.0,
            'enom_provision_actions_total{action="modify",result="modified"}': 1.0,
            "enom_paks_bought_total": 1.0,
            "enom_spend_total": 5.95,
            'enom_panel_logins_total{result="locked"}': 2.0,
        }
        for series, v in want.items():
            assert values.get(series) == v, "%s is %s on /metrics, not %s" % (series, values.get(series), v)
        setup = values.get('enom_api_requests_total{command="SetUpPOP3User",outcome="ok"}')
        assert setup and setup >= 3, setup
        want['enom_api_requests_total{command="SetUpPOP3User",outcome="ok"}'] = setup
        want['up{job="panel"}'] = 1.0
        # Scrapes come every second; ask until they show the values (bounded).
        got = {}
        for _ in range(240):
            got = {q: prom_query(q) for q in want}
            if got == want:
                break
            time.sleep(0.5)
        assert got == want, "Prometheus has %s" % got

    @check("promtool accepts the panel's /metrics, which names no domain, owner or mailbox")
    def _():
        _, text, headers = panel_metrics()
        assert "version=0.0.4" in headers["Content-Type"]
        with open(os.path.join(SHOTS, "metrics.txt"), "w") as f:  # a sample for a person to read
            f.write(text)
        r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
        for name in ("resellerdocs", "shop02", "ann", "bob", "carol", "zoe", "info"):
            assert not re.search(r'"[^"]*%s[^"]*"' % name, text), name + " in a label"

    @check("no page showed a password read from eNom: only the one it had just set")
    def _():
        known = all_sandbox_passwords() | {"Mbx-Jx4-Secret1", "Mbx-Sp7-Secret2"}
        for step, html, shown in PAGES:
            for pw in known - shown:
                assert pw not in html, "a password on the page of step '%s'" % step
        assert len(PAGES) >= 15, len(PAGES)

    @check("the audit log has who, what, which mailbox, the outcome and eNom's TrackingKey, and no password")
    def _():
        with open(os.path.join(DIR, "logs", "audit.log")) as f:
            entries = [json.loads(line) for line in f]
        def find(**kv):
            return [e for e in entries if all(e.get(k) == v for k, v in kv.items())]
        assert find(who="ann", action="login", outcome="ok")
        assert find(who="ann", action="create", domain="resellerdocs.com", mailbox="zoe", outcome="created")
        reset = find(who="ann", action="reset", mailbox="zoe", outcome="modified")
        deleted = find(who="ann", action="delete", mailbox="zoe", outcome="deleted")
        assert reset and reset[0].get("tracking_key") and deleted and deleted[0].get("tracking_key"), entries
        assert find(who="ann", action="create", domain="shop01.com", outcome="blocked")
        assert find(who="ann", action="csrf_refused")
        assert find(action="origin_refused")
        assert find(who="bob", action="denied", domain="resellerdocs.com")
        assert find(who="bob", action="buy_paks", outcome="bought")
        assert find(who="carol", action="login", outcome="locked")
        assert find(who="ann", action="forward_add", domain="resellerdocs.com", mailbox="support", outcome="pending")
        assert find(who="ann", action="forward_add", mailbox="support", outcome="pending")[0].get("tracking_key")
        assert find(who="ann", action="forward_remove", mailbox="support", outcome="removed")
        assert find(who="ann", action="catchall", domain="resellerdocs.com", outcome="set")
        for e in entries:
            assert {"time", "ip", "action"} <= set(e), e

    @check("login posts past nginx's limit_req burst get 429 from nginx")
    def _():
        codes = []
        for _ in range(45):
            codes.append(http("POST", BASE + "/login", {"owner": "x", "password": "y"},
                              {"Origin": BASE})[0])
        assert 429 in codes, codes
        assert codes[0] != 429, codes

    @check("no secret in the panel's logs (access, error, audit, Prometheus)")
    def _():
        SECRETS.update(all_sandbox_passwords())
        logs = os.path.join(DIR, "logs")
        for name in os.listdir(logs):
            with open(os.path.join(logs, name), errors="replace") as f:
                text = f.read()
            for s in SECRETS:
                assert s not in text, "a secret in logs/" + name
        assert os.path.getsize(os.path.join(logs, "access.log")) > 0


def stop():
    if driver is not None:
        try:
            driver.quit()
        except Exception:
            pass
    if service is not None:
        try:
            service.stop()
        except Exception:
            pass
    if prom is not None and prom.poll() is None:
        prom.terminate()
        try:
            prom.wait(timeout=20)
        except subprocess.TimeoutExpired:
            prom.kill()
            prom.wait()


def on_signal(signum, _frame):
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, on_signal)
    try:
        main()
    except Exception:
        tap(False, "the browser checks ran", traceback.format_exc(limit=5))
    finally:
        stop()
    sys.exit(1 if failures else 0)
