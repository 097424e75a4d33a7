//! The password arithmetic of a PostgreSQL login: SCRAM-SHA-256 ([`Scram`],
//! RFC 5802 and RFC 7677, no channel binding) and the old MD5 scheme
//! ([`md5_password`]). Pure functions of their inputs and one nonce; no I/O.
//! A server that cannot prove it knows the password (a wrong or missing
//! server signature) is refused.

use std::num::NonZeroU32;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ring::rand::SecureRandom;

use super::super::{ProbeError, net};

/// More PBKDF2 rounds than this in a SCRAM challenge is not a real server
/// (PostgreSQL's default is 4096): refuse rather than burn seconds of CPU.
const MAX_SCRAM_ITERATIONS: u32 = 1_000_000;

/// SCRAM-SHA-256 (RFC 5802, RFC 7677) without channel binding, as PostgreSQL
/// runs it: the user name inside the exchange is empty (the server takes the
/// one from the StartupMessage).
pub(crate) struct Scram {
    password: Vec<u8>,
    client_nonce: String,
    /// `client-first-message-bare , server-first-message ,
    /// client-final-message-without-proof`, once known.
    auth_message: Vec<u8>,
    salted_password: Vec<u8>,
    pub(crate) verified: bool,
}

impl Scram {
    pub(crate) fn new(password: &str) -> Result<Scram, ProbeError> {
        let mut raw = [0u8; 18];
        ring::rand::SystemRandom::new()
            .fill(&mut raw)
            .map_err(|_| ProbeError::Fatal("no randomness for a SCRAM nonce".into()))?;
        Ok(Scram {
            password: password.as_bytes().to_vec(),
            client_nonce: BASE64.encode(raw),
            auth_message: Vec::new(),
            salted_password: Vec::new(),
            verified: false,
        })
    }

    fn client_first_bare(&self) -> String {
        format!("n=,r={}", self.client_nonce)
    }

    /// `n,,` = no channel binding.
    pub(crate) fn client_first(&self) -> String {
        format!("n,,{}", self.client_first_bare())
    }

    /// From the server-first-message to the client-final-message.
    pub(crate) fn client_final(&mut self, server_first: &[u8]) -> Result<String, ProbeError> {
        let bad = |why: &str| ProbeError::Protocol(format!("SCRAM server-first-message: {why}"));
        let text = std::str::from_utf8(server_first).map_err(|_| bad("not UTF-8"))?;
        let (mut nonce, mut salt, mut iterations) = (None, None, None);
        for attr in text.split(',') {
            match attr.split_once('=') {
                Some(("r", v)) => nonce = Some(v),
                Some(("s", v)) => salt = Some(v),
                Some(("i", v)) => iterations = Some(v),
                _ => {}
            }
        }
        let nonce = nonce.ok_or_else(|| bad("no nonce"))?;
        if !nonce.starts_with(&self.client_nonce) || nonce.len() == self.client_nonce.len() {
            return Err(bad("the nonce does not extend ours"));
        }
        let salt = BASE64
            .decode(salt.ok_or_else(|| bad("no salt"))?)
            .map_err(|_| bad("salt is not base64"))?;
        let iterations = iterations
            .ok_or_else(|| bad("no iteration count"))?
            .parse::<u32>()
            .ok()
            .filter(|&i| i <= MAX_SCRAM_ITERATIONS)
            .and_then(NonZeroU32::new)
            .ok_or_else(|| bad("iteration count out of range"))?;

        let mut salted = [0u8; 32];
        ring::pbkdf2::derive(
            ring::pbkdf2::PBKDF2_HMAC_SHA256,
            iterations,
            &salt,
            &self.password,
            &mut salted,
        );
        let without_proof = format!("c=biws,r={nonce}");
        self.auth_message =
            format!("{},{text},{without_proof}", self.client_first_bare()).into_bytes();

        let client_key = hmac(&salted, b"Client Key");
        let stored_key = ring::digest::digest(&ring::digest::SHA256, &client_key);
        let signature = hmac(stored_key.as_ref(), &self.auth_message);
        let proof: Vec<u8> = client_key
            .iter()
            .zip(signature.iter())
            .map(|(k, s)| k ^ s)
            .collect();
        self.salted_password = salted.to_vec();
        Ok(format!("{without_proof},p={}", BASE64.encode(proof)))
    }

    /// The server-final-message must carry the server's signature: proof
    /// that it knows the password too (not a man in the middle).
    pub(crate) fn verify_server(&mut self, server_final: &[u8]) -> Result<(), ProbeError> {
        let text = String::from_utf8_lossy(server_final);
        if let Some(err) = text.strip_prefix("e=") {
            return Err(ProbeError::Fatal(format!(
                "SCRAM authentication failed: {}",
                net::shown(err.as_bytes())
            )));
        }
        let signature = text
            .split(',')
            .find_map(|a| a.strip_prefix("v="))
            .and_then(|v| BASE64.decode(v).ok())
            .ok_or_else(|| {
                ProbeError::Protocol("SCRAM server-final-message without a signature".into())
            })?;
        if self.salted_password.is_empty() {
            return Err(ProbeError::Protocol(
                "SCRAM server-final-message before the client proof".into(),
            ));
        }
        let server_key = hmac(&self.salted_password, b"Server Key");
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &server_key);
        ring::hmac::verify(&key, &self.auth_message, &signature).map_err(|_| {
            ProbeError::Fatal(
                "the server's SCRAM signature is wrong: it does not know the password \
                 (a man in the middle?)"
                    .into(),
            )
        })?;
        self.verified = true;
        Ok(())
    }
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    ring::hmac::sign(&key, data).as_ref().to_vec()
}

/// `"md5" + hex(md5(hex(md5(password + user)) + salt))`.
pub(crate) fn md5_password(user: &str, password: &str, salt: &[u8]) -> String {
    use md5::{Digest, Md5};
    let inner = crate::describe::hex(
        &Md5::new()
            .chain_update(password)
            .chain_update(user)
            .finalize(),
    );
    let outer = crate::describe::hex(&Md5::new().chain_update(inner).chain_update(salt).finalize());
    format!("md5{outer}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_password_matches_the_documented_construction() {
        // Computed independently (Python hashlib): user "postgres", password
        // "secret", salt 01 02 03 04.
        assert_eq!(
            md5_password("postgres", "secret", &[1, 2, 3, 4]),
            "md5bb41a296aab6baccb36ff243a562abff"
        );
    }

    #[test]
    fn scram_matches_rfc7677_test_vector() {
        // RFC 7677 section 3: user "user", password "pencil".
        let mut s = Scram::new("pencil").unwrap();
        s.client_nonce = "rOprNGfwEbeRWgbNEkqO".into();
        // The RFC's client-first-bare carries n=user; PostgreSQL's is empty,
        // so reproduce the RFC's auth message by hand.
        let server_first = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let reply = s.client_final(server_first.as_bytes()).unwrap();
        assert!(reply.starts_with("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvY"));
        // Recompute with the RFC's n=user to check the arithmetic.
        s.auth_message = format!(
            "n=user,r=rOprNGfwEbeRWgbNEkqO,{server_first},c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
        )
        .into_bytes();
        let client_key = hmac(&s.salted_password, b"Client Key");
        let stored = ring::digest::digest(&ring::digest::SHA256, &client_key);
        let sig = hmac(stored.as_ref(), &s.auth_message);
        let proof: Vec<u8> = client_key.iter().zip(&sig).map(|(a, b)| a ^ b).collect();
        assert_eq!(
            BASE64.encode(proof),
            "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        s.verify_server(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .unwrap();
        assert!(s.verified);
        assert!(matches!(
            s.verify_server(b"v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="),
            Err(ProbeError::Fatal(_))
        ));
    }

    #[test]
    fn scram_refuses_a_nonce_that_is_not_ours_and_absurd_iterations() {
        let mut s = Scram::new("pw").unwrap();
        let other = format!("r=someoneelse,s={},i=4096", BASE64.encode(b"salt"));
        assert!(matches!(
            s.client_final(other.as_bytes()),
            Err(ProbeError::Protocol(_))
        ));
        let huge = format!(
            "r={}x,s={},i=4000000000",
            s.client_nonce,
            BASE64.encode(b"salt")
        );
        assert!(matches!(
            s.client_final(huge.as_bytes()),
            Err(ProbeError::Protocol(_))
        ));
    }
}
