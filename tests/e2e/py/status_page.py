"""Signs in to the inner's status page in headless Chromium (Selenium with
Debian's chromium and chromedriver), prints what the page shows as JSON and saves a
screenshot.

usage: status_page.py BASE_URL TOKEN_FILE SCREENSHOT
"""
import json
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait


def main():
    base, token_file, screenshot = sys.argv[1:4]
    with open(token_file, encoding="ascii") as f:
        token = f.read().strip()
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1000"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        driver.get(base + "/status")
        wait = WebDriverWait(driver, 30)
        wait.until(expected_conditions.presence_of_element_located((By.ID, "token")))
        signed_out_at = driver.current_url
        driver.find_element(By.ID, "token").send_keys(token)
        driver.find_element(By.ID, "sign-in").click()
        wait.until(expected_conditions.presence_of_element_located((By.ID, "transfers")))
        transfers = [
            [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
            for row in driver.find_elements(By.CSS_SELECTOR, "#transfers tbody tr")
        ]
        channels = [
            [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
            for row in driver.find_elements(By.CSS_SELECTOR, "#channels tbody tr")
        ]
        driver.save_screenshot(screenshot)
        print(json.dumps({
            "signed_out_at": signed_out_at,
            "url": driver.current_url,
            "title": driver.title,
            "link": driver.find_element(By.ID, "link").text,
            "transfers": transfers,
            "channels": channels,
            "queues": driver.find_element(By.ID, "queues").text,
        }))
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
