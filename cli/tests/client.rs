//! The `roger` binary as a person and a script use it, against the reference cloud on loopback:
//! each command is a separate process, the tokens live in the kernel keyring between them.
//!
//! Each test joins a fresh anonymous session keyring on its own thread before it starts any
//! process, so the processes it starts share that keyring with each other and with no other test.

#![cfg(all(feature = "demo", target_os = "linux"))]

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use roger_cli::settings::Settings;
use roger_sim::mfp::QrModules;
use roger_sim::{Cloud, CloudHandle, MfpConfig, SimConfig};

const PRINTER: &str = "contoso-reception";
const ALICE: (&str, &str) = ("alice@contoso.example", "alice-password");
const CAROL: (&str, &str) = ("carol@fabrikam.example", "carol-password");
const WAIT: Duration = Duration::from_secs(30);

fn join_fresh_session_keyring() {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    // SAFETY: keyctl(JOIN_SESSION_KEYRING, NULL) takes no pointers to our memory (NULL name =
    // a new anonymous keyring) and only changes this thread's session keyring.
    let id = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_JOIN_SESSION_KEYRING,
            std::ptr::null::<libc::c_char>(),
        )
    };
    assert!(id > 0, "keyctl: {}", std::io::Error::last_os_error());
}

/// A reference cloud, a settings file naming it, and a data directory.
struct World {
    cloud: CloudHandle,
    dir: PathBuf,
    settings: PathBuf,
}

/// What a finished command left.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn from(output: Output) -> Self {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    fn ok(self) -> Self {
        assert_eq!(
            self.code, 0,
            "exit {}\n{}\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {}", self.stdout))
    }

    /// A failure as the contract says: the documented code, one line on stderr, no panic.
    fn fails_with(self, code: i32, needle: &str) -> Self {
        assert_eq!(self.code, code, "{}\n{}", self.stdout, self.stderr);
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one line expected:\n{}", self.stderr);
        assert!(lines[0].starts_with("roger: "), "{}", lines[0]);
        assert!(lines[0].ends_with('.'), "{}", lines[0]);
        assert!(lines[0].contains(needle), "{needle:?} not in {}", lines[0]);
        for bad in ["panicked", "backtrace", "RUST_BACKTRACE", "internal error"] {
            assert!(!self.stderr.contains(bad), "{}", self.stderr);
        }
        self
    }
}

impl World {
    async fn start(name: &str) -> World {
        join_fresh_session_keyring();
        let cloud = Cloud::start(SimConfig {
            // Ten times faster than real time: a printer's code lasts about 12 s here, long
            // enough for a CLI process to start, sign in and approve on a loaded machine (at
            // 100 times it lasted 1.2 s, and tests failed with "code expired" under load).
            mfps: vec![MfpConfig {
                timing: roger_sim::mfp::MfpTiming {
                    time_scale: 0.1,
                    ..roger_sim::mfp::MfpTiming::fast()
                },
                ..MfpConfig::for_printer(PRINTER)
            }],
            ..SimConfig::default()
        })
        .await
        .unwrap();
        let dir = std::env::temp_dir().join(format!("roger-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let settings = dir.join("cloud.toml");
        Settings::for_reference_cloud(&cloud)
            .write(&settings)
            .unwrap();
        World {
            cloud,
            dir,
            settings,
        }
    }

    fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_roger"));
        command
            .arg("--config")
            .arg(&self.settings)
            .arg("--data-dir")
            .arg(self.dir.join("data"))
            .args(args)
            .current_dir(&self.dir)
            .env_remove("ROGER_CONFIG")
            .env_remove("ROGER_DISCOVERY_URL")
            .env_remove("ROGER_DATA_DIR")
            .env_remove("ROGER_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }

    async fn roger(&self, args: &[&str]) -> Run {
        Run::from(self.command(args).output().await.unwrap())
    }

    async fn roger_with_stdin(&self, args: &[&str], input: &str) -> Run {
        let mut child = self.command(args).stdin(Stdio::piped()).spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input.as_bytes()).await.unwrap();
        drop(stdin);
        Run::from(child.wait_with_output().await.unwrap())
    }

    /// Runs a browser sign-in command: reads the address it prints, plays the person in the
    /// browser at the emulated authorization server, and follows the redirect to the
    /// command's loopback listener, as a browser does.
    async fn browser_sign_in(&self, args: &[&str], microsoft: bool, user: (&str, &str)) -> Run {
        let mut child = self.command(args).spawn().unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut seen = String::new();
        let url = tokio::time::timeout(WAIT, async {
            while let Some(line) = stderr.next_line().await.unwrap() {
                seen.push_str(&line);
                seen.push('\n');
                if line.starts_with("http") {
                    return url::Url::parse(&line).unwrap();
                }
            }
            panic!("no sign-in address printed:\n{seen}");
        })
        .await
        .expect("the sign-in address in time");
        let redirect = if microsoft {
            self.cloud.identity().browser_login(&url, user.0, user.1)
        } else {
            self.cloud
                .region("eu")
                .unwrap()
                .browser_login(&url, user.0, user.1)
        }
        .unwrap();
        assert_eq!(redirect.host_str(), Some("127.0.0.1"));
        assert_eq!(redirect.path(), "/callback");
        let page = reqwest::get(redirect).await.unwrap();
        assert_eq!(page.status(), 200);
        assert!(page.text().await.unwrap().contains("Signed in"));
        let mut rest = String::new();
        while let Some(line) = stderr.next_line().await.unwrap() {
            rest.push_str(&line);
        }
        let output = child.wait_with_output().await.unwrap();
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: seen + &rest,
        }
    }

    /// Alice signed in to Roger in the browser and to OneDrive.
    async fn alice(&self) {
        let steps: [(&[&str], bool, &str); 2] = [
            (
                &["login", "--region", "eu", "--no-browser"],
                false,
                "signed in as alice@contoso.example",
            ),
            (
                &["onedrive", "link", "--no-browser"],
                true,
                "OneDrive: signed in as",
            ),
        ];
        for (args, microsoft, says) in steps {
            let run = self.browser_sign_in(args, microsoft, ALICE).await.ok();
            assert!(run.stdout.contains(says), "{}", run.stdout);
        }
    }

    /// A photo of the printer's screen, as the person would take it.
    fn photo_of_printer(&self) -> PathBuf {
        let frame = self.cloud.mfp(PRINTER).unwrap().camera_frame(1280, 720);
        let path = self.dir.join("printer.png");
        image::GrayImage::from_raw(frame.width, frame.height, frame.pixels)
            .unwrap()
            .save(&path)
            .unwrap();
        path
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    async fn stop(self) {
        self.cloud.shutdown().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn pdf(len: usize, seed: u8) -> Vec<u8> {
    let mut bytes = b"%PDF-1.7\n".to_vec();
    bytes.extend((0..len).map(|i| (i as u8).wrapping_mul(13).wrapping_add(seed)));
    bytes
}

fn path_arg(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_login_from_stdin_then_status_and_logout() {
    let w = World::start("password").await;
    let run = w
        .roger_with_stdin(
            &[
                "login",
                "--password",
                "--username",
                CAROL.0,
                "--region",
                "eu",
            ],
            &format!("{}\n", CAROL.1),
        )
        .await
        .ok();
    assert!(run
        .stdout
        .contains("Roger: signed in as carol@fabrikam.example (region eu)."));
    assert!(!run.stdout.contains(CAROL.1) && !run.stderr.contains(CAROL.1));

    let status = w.roger(&["status", "--json"]).await.ok().json();
    assert_eq!(status["roger"]["signedIn"], true);
    assert_eq!(status["roger"]["username"], CAROL.0);
    assert_eq!(status["onedrive"]["signedIn"], false);
    assert!(status["printerSession"].is_null());

    // A wrong password, and a tenant that does not allow the grant, are told apart.
    w.roger_with_stdin(
        &[
            "login",
            "--password",
            "--username",
            CAROL.0,
            "--region",
            "eu",
        ],
        "wrong\n",
    )
    .await
    .fails_with(3, "user name or password is wrong");
    w.roger_with_stdin(
        &[
            "login",
            "--password",
            "--username",
            ALICE.0,
            "--region",
            "eu",
        ],
        &format!("{}\n", ALICE.1),
    )
    .await
    .fails_with(3, "not allowed here");

    w.roger(&["logout"]).await.ok();
    let status = w.roger(&["status", "--json"]).await.ok().json();
    assert_eq!(status["roger"]["signedIn"], false);
    w.roger(&["jobs"]).await.fails_with(3, "roger login");
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_story_from_the_terminal() {
    let w = World::start("story").await;
    let regions = w.roger(&["regions", "--json"]).await.ok().json();
    assert_eq!(regions.as_array().unwrap().len(), 2);
    // Several regions: login asks which one instead of guessing.
    w.roger(&["login", "--no-browser"])
        .await
        .fails_with(2, "--region");
    w.alice().await;

    // Queue a local file (uploaded to "Print") and a file already in OneDrive.
    let local = pdf(300_000, 5);
    let local_path = w.write("Travel expenses.pdf", &local);
    let queued = w
        .roger(&["print", path_arg(&local_path), "--copies", "2", "--json"])
        .await
        .ok()
        .json();
    assert_eq!(queued["state"], "waiting");
    assert_eq!(queued["options"]["copies"], 2);
    let report = pdf(50_000, 9);
    w.cloud
        .graph()
        .put_file(ALICE.0, "Print/Quarterly report.pdf", report)
        .unwrap();
    let run = w
        .roger(&[
            "print",
            "onedrive:Print/quarterly REPORT.pdf",
            "--duplex",
            "long",
        ])
        .await
        .ok();
    assert!(
        run.stdout.contains("Quarterly report.pdf"),
        "{}",
        run.stdout
    );
    let jobs = w.roger(&["jobs", "--json"]).await.ok().json();
    let jobs = jobs.as_array().unwrap();
    assert_eq!(jobs.len(), 2);
    assert!(jobs.iter().all(|j| j["state"] == "waiting"), "{jobs:?}");
    let ls = w.roger(&["ls", "print", "--json"]).await.ok().json();
    assert_eq!(ls.as_array().unwrap().len(), 2, "{ls}");

    // Nothing to release to before the printer login.
    w.roger(&["release", "--all"])
        .await
        .fails_with(8, "roger pair");

    // The photo of the printer's screen logs alice in there.
    let photo = w.photo_of_printer();
    let paired = w
        .roger(&["pair", path_arg(&photo), "--yes", "--json"])
        .await
        .ok()
        .json();
    assert_eq!(paired["preview"]["printer"]["id"], PRINTER);
    assert_eq!(paired["session"]["printerId"], PRINTER);
    let mfp = w.cloud.mfp(PRINTER).unwrap();
    mfp.wait_for_state(|s| s.is_session_open(), WAIT)
        .await
        .unwrap();
    let status = w.roger(&["status"]).await.ok();
    assert!(status.stdout.contains("logged in at"), "{}", status.stdout);

    // Release everything and wait for the printer.
    let released = w
        .roger(&["release", "--all", "--wait", "--json"])
        .await
        .ok()
        .json();
    let released = released["released"].as_array().unwrap();
    assert_eq!(released.len(), 2);
    assert!(
        released.iter().all(|j| j["state"] == "printed"),
        "{released:?}"
    );
    let printed = mfp.wait_printed(2, WAIT).await.unwrap();
    let local_job = printed
        .iter()
        .find(|p| p.job_id == queued["id"].as_str().unwrap())
        .unwrap();
    assert_eq!(local_job.copies, 2);
    assert_eq!(local_job.size, local.len() as u64);
    // The uploaded copy of the local file was deleted after printing; the OneDrive file stays.
    let ls = w.roger(&["ls", "print", "--json"]).await.ok().json();
    let names: Vec<&str> = ls
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Quarterly report.pdf"]);

    // Scan, then download what landed.
    let scanned = w.roger(&["scan", "--json"]).await.ok().json();
    let name = scanned["item"]["name"].as_str().unwrap().to_owned();
    let listed = w.roger(&["ls", "scan"]).await.ok();
    assert!(listed.stdout.contains(&name), "{}", listed.stdout);
    let dest = w.dir.join("downloads");
    std::fs::create_dir_all(&dest).unwrap();
    let item = format!("Scan/{name}");
    let got = w
        .roger(&["download", &item, path_arg(&dest), "--json"])
        .await
        .ok()
        .json();
    let written = std::fs::read(dest.join(&name)).unwrap();
    assert_eq!(got["bytes"], written.len() as u64);
    assert_eq!(Some(written.len() as u64), scanned["item"]["size"].as_u64());
    // A second download does not overwrite without --force.
    w.roger(&["download", &item, path_arg(&dest)])
        .await
        .fails_with(7, "--force");

    // The printer session ends at the printer: the client says so.
    mfp.end().await.unwrap();
    w.roger(&["scan"]).await.fails_with(8, "roger pair");
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_documented_code_and_one_line() {
    let w = World::start("bad").await;
    w.alice().await;
    let garbage = w.write("broken.png", b"\x89PNG\r\n\x1a\n not really");
    w.roger(&["pair", path_arg(&garbage), "--yes"])
        .await
        .fails_with(7, "Cannot read the image");
    let blank = w.dir.join("blank.png");
    image::GrayImage::from_pixel(640, 480, image::Luma([200u8]))
        .save(&blank)
        .unwrap();
    w.roger(&["pair", path_arg(&blank), "--yes"])
        .await
        .fails_with(7, "No QR code found");
    // Another site's code, and a Roger-shaped code on a host that is not a Roger server.
    for (text, says) in [
        (
            "https://example.com/device?user_code=BDWPHQPK",
            "not a Roger pairing code",
        ),
        (
            "https://roger.example.com/pair?code=BDWPHQPK&v=1",
            "not a trusted Roger server",
        ),
    ] {
        let png = w.write("other.png", &QrModules::encode(text).unwrap().to_png());
        w.roger(&["pair", path_arg(&png), "--yes"])
            .await
            .fails_with(7, says);
    }
    let missing_png = w.dir.join("missing.png");
    let nowhere_pdf = w.dir.join("nowhere.pdf");
    let cases: [(&[&str], i32, &str); 8] = [
        (&["pair", "--code", "NOPE-NOPE", "--yes"], 7, "malformed"),
        (
            &["pair", path_arg(&missing_png)],
            7,
            "Cannot read the image",
        ),
        (&["cancel", "job_doesnotexist"], 6, "roger jobs"),
        (
            &["print", "onedrive:Print/nothing here.pdf"],
            6,
            "roger ls print",
        ),
        (&["download", "Scan/none.pdf"], 6, "roger ls scan"),
        (&["print", path_arg(&nowhere_pdf)], 7, "There is no file"),
        (&["download", "Documents/x.pdf"], 2, "Print/<name>"),
        (
            &["print", "x.pdf", "--copies", "2", "--pages", "3-1"],
            7,
            "pageRanges",
        ),
    ];
    for (args, code, needle) in cases {
        w.roger(args).await.fails_with(code, needle);
    }
    // Approval without --yes needs a person at a terminal.
    let photo = w.photo_of_printer();
    w.roger(&["pair", path_arg(&photo)])
        .await
        .fails_with(2, "--yes");
    // JSON mode reports the failure on stdout too.
    let run = w.roger(&["cancel", "job_doesnotexist", "--json"]).await;
    assert_eq!(run.code, 6);
    assert_eq!(run.json()["exitCode"], 6);

    // The sign-in session runs out on the server's clock (unused past its window).
    w.cloud
        .clock()
        .advance(Duration::from_secs(100 * 24 * 3600));
    w.roger(&["jobs"]).await.fails_with(3, "roger login");
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_answer_of_another_sign_in_is_refused_and_the_real_one_still_completes() {
    let w = World::start("stray").await;
    let mut child = w
        .command(&["login", "--region", "eu", "--no-browser"])
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let url = loop {
        let line = stderr.next_line().await.unwrap().unwrap();
        if line.starts_with("http") {
            break url::Url::parse(&line).unwrap();
        }
    };
    let redirect = w
        .cloud
        .region("eu")
        .unwrap()
        .browser_login(&url, ALICE.0, ALICE.1)
        .unwrap();
    // A forged answer with another state reaches the listener first.
    let mut forged = redirect.clone();
    let pairs: Vec<(String, String)> = redirect
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "state" {
                "forged".into()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    forged.query_pairs_mut().clear().extend_pairs(pairs);
    assert_eq!(reqwest::get(forged).await.unwrap().status(), 400);
    assert_eq!(reqwest::get(redirect).await.unwrap().status(), 200);
    let output = child.wait_with_output().await.unwrap();
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("signed in as alice"));
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_refreshing_at_once_refresh_once_and_both_stay_signed_in() {
    let w = World::start("two-processes").await;
    w.browser_sign_in(&["login", "--region", "eu", "--no-browser"], false, ALICE)
        .await
        .ok();
    let eu = w.cloud.region("eu").unwrap();
    // The server's clock moves past the access token's life: both processes are refused with
    // it, and both go to refresh the same refresh token at the same moment.
    w.cloud.clock().advance(Duration::from_secs(21 * 60));
    let before = eu.stats().refresh_requests();
    // Every region request takes 300 ms, so the two processes' refreshes overlap for sure.
    eu.faults().delay_requests(Duration::from_millis(300));
    let (first, second) = tokio::join!(w.roger(&["jobs", "--json"]), w.roger(&["jobs", "--json"]));
    first.ok();
    second.ok();
    assert_eq!(
        eu.stats().refresh_requests() - before,
        1,
        "the second process used the token the first one stored"
    );
    // Nobody presented a spent refresh token: the session is still good for a third run.
    eu.faults().delay_requests(Duration::ZERO);
    w.roger(&["jobs"]).await.ok();
    let status = w.roger(&["status", "--json"]).await.ok().json();
    assert_eq!(status["roger"]["signedIn"], true);
    w.stop().await;
}
