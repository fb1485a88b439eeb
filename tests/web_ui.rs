//! The web UI of `plua --fibaro` in a real browser: Debian's headless chromium driven by
//! chromedriver through python3-selenium opens the page, finds the QA's card, clicks its
//! button, moves its slider, toggles its switch, picks an option and long-presses a button;
//! the QA's handlers run (their lines on plua's stdout) and the label changes in the page
//! through the `/ws/quickapps` push. A screenshot goes to `target/tmp/web_ui.png`.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use support::{Running, TempDir, plua};

const QA: &str = r#"--%%name:Living Room
--%%type:com.fibaro.multilevelSwitch
--%%u:{label='status',text='idle'}
--%%u:{{button='b1',text='Press',onReleased='press',onLongPressDown='longDown',onLongPressReleased='longUp'},{switch='power',text='Power',onReleased='power'}}
--%%u:{slider='level',text='Level',onChanged='level',min=0,max=10}
--%%u:{select='mode',text='Mode',onToggled='mode',options={{text='Auto',type='option',value='auto'},{text='Manual',type='option',value='manual'}}}
function QuickApp:onInit() self:debug("onInit") end
function QuickApp:show(text) self:debug(text) self:updateView("status", "text", text) end
function QuickApp:press() self:show("pressed") end
function QuickApp:longDown() self:debug("long down") end
function QuickApp:longUp() self:show("long released") end
function QuickApp:power(ev) self:show("power " .. tostring(ev.values[1])) end
function QuickApp:level(ev) self:show("level " .. tostring(ev.values[1])) end
function QuickApp:mode(ev) self:show("mode " .. tostring(ev.values[1])) end
"#;

/// The browser side: each step acts, then waits until the label shows the expected text.
const DRIVER: &str = r#"
import sys, tempfile, time
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.support.ui import Select, WebDriverWait

url, shot = sys.argv[1], sys.argv[2]
o = webdriver.ChromeOptions()
for flag in ("--headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
             "--disable-background-networking --disable-component-update --disable-sync "
             "--window-size=1000,900").split():
    o.add_argument(flag)
o.add_argument("--user-data-dir=" + tempfile.mkdtemp())
o.binary_location = "/usr/bin/chromium"
d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)
try:
    d.get(url)
    wait = WebDriverWait(d, 15)
    el = lambda name: wait.until(lambda d: d.find_element(By.CSS_SELECTOR, f'[data-name="{name}"]'))
    title = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, ".card-title"))
    print("card", title.text, flush=True)
    wait.until(lambda d: "live" in d.find_element(By.ID, "conn").get_attribute("class"))
    def label_is(text):
        wait.until(lambda d: el("status").text == text)
        print("label", text, flush=True)
    label_is("idle")
    el("b1").click()
    label_is("pressed")
    slider = el("level").find_element(By.TAG_NAME, "input")
    slider.send_keys(Keys.ARROW_RIGHT, Keys.ARROW_RIGHT, Keys.ARROW_RIGHT)
    label_is("level 3")
    el("power").find_element(By.TAG_NAME, "input").click()
    label_is("power true")
    Select(el("mode").find_element(By.TAG_NAME, "select")).select_by_value("manual")
    label_is("mode manual")
    ActionChains(d).click_and_hold(el("b1")).pause(1.0).release().perform()
    label_is("long released")
    d.save_screenshot(shot)
    print("done", flush=True)
finally:
    d.quit()
"#;

fn browser_available() -> Result<(), String> {
    for tool in ["/usr/bin/chromium", "/usr/bin/chromedriver"] {
        if !std::path::Path::new(tool).exists() {
            return Err(format!(
                "{tool} missing (apt-get install chromium chromium-driver)"
            ));
        }
    }
    let selenium = Command::new("/usr/bin/python3")
        .args(["-c", "import selenium"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| e.to_string())?;
    if !selenium.success() {
        return Err("python3-selenium missing (apt-get install python3-selenium)".into());
    }
    Ok(())
}

#[test]
fn clicks_slides_toggles_and_picks_in_a_real_browser_and_the_label_follows_over_the_websocket() {
    if let Err(why) = browser_available() {
        panic!("the browser test needs chromium, chromedriver and selenium: {why}");
    }
    let dir = TempDir::new();
    dir.write("qa.lua", QA);
    let mut cmd = plua();
    cmd.current_dir(dir.path())
        .args(["--fibaro", "-o", "--port", "0", "qa.lua"]);
    let mut hub = Running::start(cmd, false);
    let port = hub.line_after("API server on http://127.0.0.1:");
    hub.wait_for_stdout("onInit");
    let shot = format!("{}/web_ui.png", env!("CARGO_TARGET_TMPDIR"));
    let mut browser_cmd = Command::new("/usr/bin/python3");
    browser_cmd
        .arg("-u")
        .arg("-c")
        .arg(DRIVER)
        .arg(format!("http://127.0.0.1:{port}/"))
        .arg(&shot);
    let mut browser = Running::start(browser_cmd, false);
    browser.wait_for_stdout("card Living Room");
    for (handler_line, label) in [
        ("]: pressed", "label pressed"),
        ("]: level 3", "label level 3"),
        ("]: power true", "label power true"),
        ("]: mode manual", "label mode manual"),
        ("]: long down", "label long released"),
    ] {
        hub.wait_for_stdout(handler_line);
        browser.wait_for_stdout(label);
    }
    browser.wait_for_stdout("done");
    let out = browser.finish(Duration::from_secs(30));
    out.assert_code(0);
    let qa = hub.kill_and_collect();
    assert!(qa.stdout.contains("]: long released"), "{}", qa.stdout);
    assert!(
        std::fs::metadata(&shot).is_ok_and(|m| m.len() > 1000),
        "no screenshot at {shot}"
    );
}
