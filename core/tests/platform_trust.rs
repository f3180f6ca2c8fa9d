//! The core's HTTPS clients trust what the platform trusts, not only bundled roots: on Linux the
//! platform store honours `SSL_CERT_FILE`, so a private CA installed there (as an MDM or an
//! enterprise proxy installs one on a phone) is trusted, and a CA that is not installed is not.
//!
//! One test in its own binary: the environment is set before any client reads the trust store.

use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use roger_core::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A CA, and a server certificate for 127.0.0.1 it signed.
struct Pki {
    ca_pem: String,
    server: rustls::ServerConfig,
}

fn pki(name: &str) -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, format!("{name} root"));
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca_cert, &ca_key)
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            rustls::pki_types::PrivateKeyDer::try_from(leaf_key.serialize_der()).unwrap(),
        )
        .unwrap();
    Pki {
        ca_pem: ca_cert.pem(),
        server,
    }
}

/// Serves `200 ok` over TLS to every connection; returns the origin.
async fn serve(server: rustls::ServerConfig) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("https://{}", listener.local_addr().unwrap());
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut request = [0u8; 1024];
                let _ = tls.read(&mut request).await;
                let _ = tls
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    )
                    .await;
                let _ = tls.shutdown().await;
            });
        }
    });
    origin
}

#[tokio::test]
async fn a_ca_in_the_platform_store_is_trusted_and_one_outside_it_is_not() {
    let installed = pki("Contoso enterprise");
    let foreign = pki("Unknown");
    let dir = std::env::temp_dir().join(format!("roger-platform-trust-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bundle = dir.join("ca.pem");
    std::fs::write(&bundle, &installed.ca_pem).unwrap();
    // The Linux platform store: the system bundle this variable names, here only our CA.
    std::env::set_var("SSL_CERT_FILE", &bundle);
    std::env::remove_var("SSL_CERT_DIR");

    let http = roger_core::net::http_client(&Config::production()).unwrap();
    let trusted = serve(installed.server).await;
    let untrusted = serve(foreign.server).await;

    let response = http.get(format!("{trusted}/")).send().await;
    let response = response.expect("a server whose CA the platform trusts is reachable");
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "ok");

    let refused = http.get(format!("{untrusted}/")).send().await;
    let error = refused.expect_err("a CA the platform does not trust is refused");
    assert!(
        format!("{error:?}").contains("UnknownIssuer"),
        "refused for the issuer: {error:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
