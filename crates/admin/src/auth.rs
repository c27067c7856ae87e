//! [`Auth`]: one connection's authentication state and the `AUTH` command, as redis-server does it for
//! the `default` user (`acl.c: ACLCheckUserCredentials`). Passwords are compared in constant time.

use std::sync::Arc;

use crate::reply::{Reply, OK};

/// `-NOAUTH`, for any command but AUTH, HELLO and QUIT before a successful AUTH.
pub(crate) const NOAUTH: &str = "NOAUTH Authentication required.";
const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";
const NO_PASSWORD: &str = "ERR AUTH <password> called without any password configured for the default user. \
                           Are you sure your configuration is correct?";

/// Whether a connection may run commands.
#[derive(Debug, Clone)]
pub(crate) struct Auth {
    password: Option<Arc<[u8]>>,
    passed: bool,
}

impl Auth {
    /// A new connection: authenticated at once when there is no password.
    pub(crate) fn new(password: Option<Arc<[u8]>>) -> Self {
        Auth { passed: password.is_none(), password }
    }

    /// Whether commands other than AUTH, HELLO and QUIT may run.
    pub(crate) fn passed(&self) -> bool {
        self.passed
    }

    /// `AUTH [user] password`. A failure leaves the state as it was, as in Redis.
    pub(crate) fn check(&mut self, user: Option<&[u8]>, given: &[u8]) -> Reply {
        let default_user = user.is_none_or(|u| u == b"default");
        let ok = match (&self.password, user) {
            (None, None) => return Reply::error(NO_PASSWORD),
            // Without a password, `default` is a `nopass` user: any password will do.
            (None, Some(_)) => default_user,
            (Some(password), _) => constant_time_eq(password, given) & default_user,
        };
        if ok {
            self.passed = true;
            OK
        } else {
            Reply::error(WRONGPASS)
        }
    }
}

/// Equality whose time depends on the length of `given` only, not on where the first difference is.
fn constant_time_eq(expected: &[u8], given: &[u8]) -> bool {
    let mut diff = u8::from(expected.len() != given.len());
    for (i, &b) in given.iter().enumerate() {
        diff |= b ^ expected.get(i).copied().unwrap_or(!b);
    }
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(password: &str) -> Auth {
        Auth::new(Some(Arc::from(password.as_bytes())))
    }

    #[test]
    fn constant_time_eq_is_eq() {
        for (a, b) in [("", ""), ("a", ""), ("", "a"), ("abc", "abc"), ("abc", "abd"), ("abc", "ab"), ("ab", "abc")] {
            assert_eq!(constant_time_eq(a.as_bytes(), b.as_bytes()), a == b, "{a:?} {b:?}");
        }
    }

    #[test]
    fn with_a_password() {
        let mut auth = with("s3cret");
        assert!(!auth.passed());
        assert_eq!(auth.check(None, b"nope"), Reply::error(WRONGPASS));
        assert_eq!(auth.check(Some(b"bob"), b"s3cret"), Reply::error(WRONGPASS));
        assert!(!auth.passed());
        assert_eq!(auth.check(Some(b"default"), b"s3cret"), OK);
        assert!(auth.passed());
        assert_eq!(auth.check(None, b"wrong"), Reply::error(WRONGPASS));
        assert!(auth.passed(), "a failed AUTH does not log out");
        assert_eq!(with("p").check(None, b"p"), OK);
    }

    #[test]
    fn without_a_password() {
        let mut auth = Auth::new(None);
        assert!(auth.passed());
        assert_eq!(auth.check(None, b"x"), Reply::error(NO_PASSWORD));
        assert_eq!(auth.check(Some(b"default"), b"anything"), OK);
        assert_eq!(auth.check(Some(b"bob"), b"anything"), Reply::error(WRONGPASS));
    }
}
