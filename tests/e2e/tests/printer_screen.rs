//! The phone reads the printer's screen: camera views of the MFP simulator's QR code, decoded by
//! the core's scanner and checked against the discovered regions before any request is sent.

use std::sync::Arc;
use std::time::Duration;

use roger_core::accounts::{Accounts, OpenOptions};
use roger_core::pairing::{parse_pairing_payload, policy_from_regions};
use roger_core::qr::{scan, LumaFrame, PipelineOptions};
use roger_core::store::MemoryStore;
use roger_e2e::core_config;
use roger_sim::mfp::{camera_frame, CameraSettings, MfpConfig, QrModules};
use roger_sim::{Cloud, SimConfig};

const PRINTER: &str = "contoso-reception";
/// The frame sizes phones hand over: VGA, 720p, and a portrait VGA.
const SIZES: [(u32, u32); 3] = [(640, 480), (1280, 720), (480, 640)];

fn read(pixels: &[u8], width: u32, height: u32) -> Vec<String> {
    let frame = LumaFrame::packed(pixels, width as usize, height as usize).unwrap();
    scan(&frame, &PipelineOptions::default())
        .codes
        .into_iter()
        .map(|c| c.text)
        .collect()
}

/// User codes in RFC 8628's alphabet, from a fixed seed: the same codes on every run.
fn user_codes(n: usize) -> Vec<String> {
    const ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    (0..n)
        .map(|_| {
            let mut code = String::new();
            for i in 0..8 {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                if i == 4 {
                    code.push('-');
                }
                code.push(ALPHABET[(state >> 33) as usize % ALPHABET.len()] as char);
            }
            code
        })
        .collect()
}

#[tokio::test]
async fn the_core_reads_every_camera_view_of_the_printer_screen() {
    let config = SimConfig {
        mfps: vec![MfpConfig::for_printer(PRINTER).fast()],
        ..SimConfig::default()
    };
    let cloud = Cloud::start(config).await.unwrap();
    let accounts = Accounts::open(
        core_config(&cloud),
        Arc::new(MemoryStore::new()),
        OpenOptions::default(),
    )
    .unwrap();
    let policy = policy_from_regions(&accounts.regions().await.unwrap(), true);
    let mfp = cloud.mfp(PRINTER).unwrap();

    // The code the printer shows now, seen by the phone at each size.
    let qr = mfp
        .wait_for_new_qr(None, Duration::from_secs(20))
        .await
        .unwrap();
    for (w, h) in SIZES {
        let frame = mfp.camera_frame(w, h);
        assert_eq!(
            read(&frame.pixels, w, h),
            [qr.verification_uri_complete.as_str()],
            "{w}x{h}"
        );
    }
    let payload = parse_pairing_payload(&qr.verification_uri_complete, &policy).unwrap();
    assert_eq!(payload.region_id, "eu");

    // Many codes the printer could show, in the same camera pose: every one is read and trusted.
    let issuer = &cloud.region("eu").unwrap().issuer;
    let mut unread = Vec::new();
    for code in user_codes(12) {
        let uri = format!("{issuer}/pair?v=1&code={code}");
        let modules = QrModules::encode(&uri).unwrap();
        for (w, h) in SIZES {
            let frame = camera_frame(Some(&modules), w, h, &CameraSettings::default());
            if read(&frame.pixels, w, h) != [uri.as_str()] {
                unread.push(format!("{code} at {w}x{h}"));
            }
        }
        let payload = parse_pairing_payload(&uri, &policy).unwrap();
        assert_eq!(payload.user_code.display(), code);
    }
    assert!(unread.is_empty(), "not read: {unread:?}");
    cloud.shutdown().await;
}
