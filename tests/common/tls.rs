//! A certificate authority made for one test, and HTTPS servers with
//! certificates it signs.

use axum::Router;
use livescan::tools::Fetcher;
use std::sync::Arc;

/// A certificate authority made for one test, and leaf certificates it signs.
pub struct TestCa(rcgen::CertifiedIssuer<'static, rcgen::KeyPair>);

impl TestCa {
    pub fn new() -> TestCa {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "livescan test CA");
        TestCa(rcgen::CertifiedIssuer::self_signed(params, rcgen::KeyPair::generate().unwrap()).unwrap())
    }

    pub fn root(&self) -> rustls::pki_types::CertificateDer<'static> {
        self.0.der().clone()
    }

    /// A fetcher that trusts this CA, as `serve --ca-cert` would make it.
    pub fn fetcher(&self) -> Fetcher {
        Fetcher::with_roots(true, vec![self.root()])
    }

    /// Serves `router` over HTTPS on 127.0.0.1 with a certificate for
    /// `names`, valid from yesterday for `days` more days.
    pub async fn serve(&self, router: Router, names: &[&str], days: i64) -> String {
        self.serve_on("127.0.0.1", router, names, days).await
    }

    /// The same on `ip`. The server presents its chain with this CA in it,
    /// which is what lets a browser told to trust the CA's key accept it.
    pub async fn serve_on(&self, ip: &str, router: Router, names: &[&str], days: i64) -> String {
        use chrono::Datelike;
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params =
            rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
        let date = |at: chrono::DateTime<chrono::Utc>| {
            rcgen::date_time_ymd(at.year(), at.month() as u8, at.day() as u8)
        };
        params.not_before = date(chrono::Utc::now() - chrono::Duration::days(1));
        params.not_after = date(chrono::Utc::now() + chrono::Duration::days(days));
        let leaf = params.signed_by(&key, &self.0).unwrap();
        let private = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
        let config =
            rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(vec![leaf.der().clone(), self.root()], private)
                .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, router) = (acceptor.clone(), router.clone());
                tokio::spawn(async move {
                    // A client that refuses the certificate ends the handshake: fine.
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = hyper_util::service::TowerToHyperService::new(router);
                    let _ =
                        hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
                            .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                            .await;
                });
            }
        });
        format!("https://{address}")
    }
}
