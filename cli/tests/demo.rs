//! The README's main command: `roger demo` walks the whole story against the embedded
//! reference cloud and exits 0.

#![cfg(feature = "demo")]

use std::process::Command;

#[test]
fn the_demo_walks_the_whole_story_and_exits_zero() {
    let dir = std::env::temp_dir().join(format!("roger-demo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_roger"))
        .arg("demo")
        .current_dir(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "demo failed\n{stdout}\n{stderr}");
    let steps = [
        "Region discovery",
        "Sign in to Roger",
        "Sign in to Microsoft",
        "Queue a document from OneDrive",
        "it shows its login QR code",
        "the core decodes and checks the code",
        "Preview",
        "Approve: the printer logs the person in",
        "Release every waiting job",
        "Print a local file",
        "Scan to OneDrive",
        "End the printer session",
        "Sign out",
    ];
    for (n, title) in steps.iter().enumerate() {
        let heading = format!("[{}] ", n + 1);
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(&heading) && l.contains(title)),
            "step {} ({title}) missing in\n{stdout}",
            n + 1
        );
    }
    for expected in [
        "SHA-256 matches the OneDrive file",
        "SHA-256 matches the local file",
        "\"Print\" now holds [] (the after-print actions ran)",
        "event: signed out: stream stopped",
        "Demo finished in",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in\n{stdout}"
        );
    }
    // What the phone's camera saw and the code it decoded are left for the reader.
    assert!(dir.join("out/mfp-qr.png").is_file());
    assert!(dir.join("out/mfp-camera.png").is_file());
    // No secret reaches the narration.
    for secret in ["alice-password", "access_token", "refresh_token"] {
        assert!(!stdout.contains(secret) && !stderr.contains(secret));
    }
    let _ = std::fs::remove_dir_all(&dir);
}
