"""Signs in to a region of the reference cloud and prints the tokens the contract run needs.

Usage: python tokens.py REGION_API_URL

Prints shell assignments (USER_TOKEN, PRINTER_TOKEN, PRINTER_SCAN_TOKEN) for the seeded test
account carol@fabrikam.example (a tenant that allows the password grant) and the tenant's printer
fabrikam-lobby, logged in with the device grant (step 1) and the session credential (step 2).
Then gives the printer something to answer with: a job released to it and a scan asked of it.
Test data only: these are the reference cloud's seeded accounts.
"""

import json
import sys
import urllib.error
import urllib.parse
import urllib.request

USER = ("carol@fabrikam.example", "carol-password")
PRINTER = ("mfp-fabrikam-lobby", "fabrikam-lobby-secret")


def call(base, method, path, form=None, token=None, body=None):
    if body is not None:
        data, media = json.dumps(body).encode(), "application/json"
    elif form is not None:
        data, media = urllib.parse.urlencode(form).encode(), "application/x-www-form-urlencoded"
    else:
        data, media = None, None
    request = urllib.request.Request(base + path, data=data, method=method)
    if media:
        request.add_header("Content-Type", media)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        sys.exit(f"{method} {path}: HTTP {error.code}: {error.read().decode(errors='replace')}")


def main():
    base = sys.argv[1].rstrip("/")
    user = call(base, "POST", "/oauth/token", {
        "grant_type": "password", "client_id": "roger-mobile",
        "username": USER[0], "password": USER[1],
    })["access_token"]
    printer_auth = {"client_id": PRINTER[0], "client_secret": PRINTER[1]}
    device = call(base, "POST", "/oauth/device_authorization", printer_auth)
    code = device["user_code"]
    call(base, "POST", f"/api/v1/pairings/{code}/approve", token=user)
    step1 = call(base, "POST", "/oauth/token", {
        "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
        "device_code": device["device_code"], **printer_auth,
    })
    step2 = call(base, "POST", "/oauth/token", {
        "grant_type": "password", "username": "session:" + step1["roger_session_id"],
        "password": step1["session_credential"], **printer_auth,
    })
    job = call(base, "POST", "/api/v1/jobs", token=user, body={
        "fileName": "Contract check.pdf", "size": 1024, "contentType": "application/pdf",
        "downloadUrl": "https://files.example/download?sig=contract",
    })
    call(base, "POST", "/api/v1/jobs/release", token=user, body={
        "jobIds": [job["id"]], "clientRequestId": "contract-seed",
    })
    call(base, "POST", "/api/v1/scans", token=user, body={
        "profileId": "document-pdf", "uploadUrl": "https://files.example/upload?sig=contract",
        "fileName": "Contract scan.pdf",
    })
    print(f"USER_TOKEN={user}")
    print(f"PRINTER_TOKEN={step1['access_token']}")
    print(f"PRINTER_SCAN_TOKEN={step2['access_token']}")


if __name__ == "__main__":
    main()
