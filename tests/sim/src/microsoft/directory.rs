//! The emulated Microsoft Entra directory: one tenant per Roger tenant, the same people with the
//! same passwords (stored only as hashes), each with a stable object id.

use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::config::SimConfig;
use crate::secret::hash_password;

/// A directory tenant.
#[derive(Clone, Debug)]
pub struct Tenant {
    /// Directory (tenant) id, a GUID.
    pub id: String,
    /// The Roger tenant it mirrors.
    pub roger_id: String,
    /// Verified domain, e.g. `contoso.example`.
    pub domain: String,
}

/// A user account.
#[derive(Clone, Debug)]
pub struct User {
    /// Object id, a GUID.
    pub id: String,
    /// Directory id of the user's tenant.
    pub tenant_id: String,
    /// User principal name and mail (the e-mail of the Roger user).
    pub upn: String,
    pub display_name: String,
    pub password_hash: String,
}

/// Every tenant and user, fixed at start-up.
#[derive(Debug)]
pub struct Directory {
    pub tenants: Vec<Tenant>,
    pub users: Vec<User>,
}

/// Which accounts an authority (`{tenant}` path segment) admits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Authority {
    /// `common` or `organizations`: any work account.
    MultiTenant(&'static str),
    /// One tenant, named by its GUID or its domain.
    Tenant(String),
}

impl Authority {
    /// The segment of the URLs, e.g. `organizations` or a tenant id.
    pub fn segment(&self) -> &str {
        match self {
            Authority::MultiTenant(name) => name,
            Authority::Tenant(id) => id,
        }
    }
}

impl Directory {
    /// The directory mirroring the Roger tenants of `config`.
    pub fn seed(config: &SimConfig) -> Self {
        let mut tenants = Vec::new();
        let mut users = Vec::new();
        for tenant in config.regions.iter().flat_map(|r| &r.tenants) {
            let tenant_id = stable_guid(&format!("tenant:{}", tenant.id));
            for user in &tenant.users {
                users.push(User {
                    id: stable_guid(&format!("user:{}", user.email.to_ascii_lowercase())),
                    tenant_id: tenant_id.clone(),
                    upn: user.email.clone(),
                    display_name: user.name.clone(),
                    password_hash: hash_password(&user.password, config.password_hash_iterations),
                });
            }
            tenants.push(Tenant {
                id: tenant_id,
                roger_id: tenant.id.clone(),
                domain: tenant.domain.clone(),
            });
        }
        Self { tenants, users }
    }

    /// Resolves the `{tenant}` path segment: `common`, `organizations`, a tenant id or a
    /// verified domain (case-insensitive). `consumers` and anything else are unknown.
    pub fn authority(&self, segment: &str) -> Option<Authority> {
        if segment.eq_ignore_ascii_case("common") {
            return Some(Authority::MultiTenant("common"));
        }
        if segment.eq_ignore_ascii_case("organizations") {
            return Some(Authority::MultiTenant("organizations"));
        }
        self.tenants
            .iter()
            .find(|t| t.id.eq_ignore_ascii_case(segment) || t.domain.eq_ignore_ascii_case(segment))
            .map(|t| Authority::Tenant(t.id.clone()))
    }

    /// Whether an authority lets this user sign in.
    pub fn admits(&self, authority: &Authority, user: &User) -> bool {
        match authority {
            Authority::MultiTenant(_) => true,
            Authority::Tenant(id) => *id == user.tenant_id,
        }
    }

    pub fn user_by_upn(&self, upn: &str) -> Option<&User> {
        self.users.iter().find(|u| u.upn.eq_ignore_ascii_case(upn))
    }

    pub fn user(&self, id: &str) -> Option<&User> {
        self.users.iter().find(|u| u.id == id)
    }
}

/// A GUID derived from a name, so ids are the same on every start.
pub fn stable_guid(name: &str) -> String {
    let digest = Sha256::digest(format!("roger-sim microsoft {name}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    format_guid(bytes)
}

/// A fresh random GUID (version 4).
pub fn random_guid() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    format_guid(bytes)
}

fn format_guid(mut b: [u8; 16]) -> String {
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids_are_stable_and_well_formed() {
        let a = stable_guid("x");
        assert_eq!(a, stable_guid("x"));
        assert_ne!(a, stable_guid("y"));
        assert_eq!(a.len(), 36);
        assert_eq!(a.matches('-').count(), 4);
        assert_eq!(&a[14..15], "4");
        assert_ne!(random_guid(), random_guid());
    }

    #[test]
    fn authorities_resolve_by_keyword_id_or_domain() {
        let directory = Directory::seed(&SimConfig {
            password_hash_iterations: 1,
            ..SimConfig::default()
        });
        let contoso = directory
            .tenants
            .iter()
            .find(|t| t.roger_id == "contoso")
            .unwrap();
        assert_eq!(
            directory.authority("Organizations"),
            Some(Authority::MultiTenant("organizations"))
        );
        assert_eq!(
            directory.authority("CONTOSO.example"),
            Some(Authority::Tenant(contoso.id.clone()))
        );
        assert_eq!(
            directory.authority(&contoso.id.to_uppercase()),
            Some(Authority::Tenant(contoso.id.clone()))
        );
        assert_eq!(directory.authority("consumers"), None);
        let carol = directory.user_by_upn("carol@fabrikam.example").unwrap();
        assert!(!directory.admits(&Authority::Tenant(contoso.id.clone()), carol));
        assert!(directory.admits(&Authority::MultiTenant("common"), carol));
    }
}
