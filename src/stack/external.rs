//! The external driver: a stack someone else runs. fpmlab only checks that it answers.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use async_trait::async_trait;

use super::{Endpoints, Stack, StackInfo};
use crate::tls::TlsVerify;

/// How long `up` waits for the URL to answer at all.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// A stack at a URL the user gives; `up` and `down` start and stop nothing.
pub struct ExternalStack {
    base_url: String,
    health_path: String,
    tls: TlsVerify,
}

impl ExternalStack {
    /// `url` is nginx's (or the load balancer's) base URL, e.g. `http://10.0.0.5:8080/`;
    /// `health_path` the deep health check's path on it (`app.health_path`); `tls` how an
    /// `https://` URL's certificate is verified.
    pub fn new(url: &str, health_path: &str, tls: &TlsVerify) -> ExternalStack {
        ExternalStack {
            base_url: url.trim_end_matches('/').to_string(),
            health_path: health_path.to_string(),
            tls: tls.clone(),
        }
    }
}

#[async_trait]
impl Stack for ExternalStack {
    /// Succeeds once the URL answers with any HTTP status (a 404 still proves a server).
    /// A TLS failure ends the wait at once, explained: a certificate does not fix itself.
    async fn up(&mut self) -> Result<Endpoints> {
        let url = match reqwest::Url::parse(&self.base_url) {
            Ok(u) => u,
            Err(e) => bail!(
                "external stack URL {:?} is not a valid URL ({e}): give it as \
                 http://host:port or https://host:port",
                self.base_url
            ),
        };
        let host = url.host_str().unwrap_or_default().to_string();
        let port = url.port_or_known_default().unwrap_or_default();
        // Direct, like the generator: a proxy from the environment would answer for it.
        let client = crate::tls::http_client(&self.base_url, &self.tls)
            .map_err(anyhow::Error::msg)?
            .timeout(Duration::from_secs(2))
            .build()?;
        let deadline = Instant::now() + ANSWER_TIMEOUT;
        let last_error = loop {
            match client.get(&self.base_url).send().await {
                Ok(_) => break None,
                Err(e) => {
                    if let Some(why) = crate::tls::explain_chain(&e, &host, port, &self.tls) {
                        bail!("the external stack at {}: {why}", self.base_url);
                    }
                    if Instant::now() >= deadline {
                        break Some(e);
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await
                }
            }
        };
        if let Some(e) = last_error {
            bail!(
                "the external stack at {} did not answer within {}s ({e}): check that it \
                 runs and that the URL (scheme, host, port) is right",
                self.base_url,
                ANSWER_TIMEOUT.as_secs()
            );
        }
        Ok(Endpoints {
            base_url: self.base_url.clone(),
            nginx_health_path: "/nginx-health".into(),
            fpm_ping_path: "/fpm-ping".into(),
            fpm_status_path: "/fpm-status".into(),
            app_health_path: self.health_path.clone(),
            fpm_master_pid: None,
            fpm_listen: None,
            containers: Vec::new(),
            tls: self.tls.clone(),
        })
    }

    async fn down(&mut self) -> Result<()> {
        Ok(())
    }

    fn info(&self) -> StackInfo {
        StackInfo {
            driver: "external".into(),
            nginx_version: None,
            php_version: None,
        }
    }
}
