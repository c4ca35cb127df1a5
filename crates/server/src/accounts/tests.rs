//! Tests of [`Accounts`] over a real (in-memory) store, with real argon2 hashing.

use std::net::{IpAddr, Ipv4Addr};

use argon2::PasswordHash;
use tokio::time::Instant;

use super::*;
use crate::store::{SCRAM_CREDENTIALS_VERSION, StoreConfig};

fn store() -> Store {
    Store::open(StoreConfig::new(":memory:"))
        .expect("open the store")
        .store
}

fn accounts() -> Accounts {
    Accounts::new(
        store(),
        LoginLimits::default(),
        RegistrationPolicy::default(),
    )
}

fn address(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(198, 51, 100, last))
}

const HOME: u8 = 1;

#[tokio::test]
async fn register_then_log_in_in_any_case() {
    let accounts = accounts();
    assert_eq!(
        accounts.register("Alice", "correct-horse").await,
        Ok("Alice".to_owned())
    );
    assert_eq!(
        accounts
            .login("alice", "correct-horse", address(HOME))
            .await,
        Ok("Alice".to_owned())
    );
    assert_eq!(accounts.is_registered("ALICE").await, Ok(true));
    assert_eq!(accounts.is_registered("bob").await, Ok(false));
    assert_eq!(accounts.is_registered("not a nick").await, Ok(false));
}

#[tokio::test]
async fn the_store_holds_an_argon2id_hash_not_the_password() {
    let store = store();
    let accounts = Accounts::new(
        store.clone(),
        LoginLimits::default(),
        RegistrationPolicy::default(),
    );
    accounts
        .register("alice", "correct-horse")
        .await
        .expect("register");
    let record = store
        .account("alice")
        .await
        .expect("lookup")
        .expect("alice");
    assert!(!record.password_hash.contains("correct-horse"));
    let parsed = PasswordHash::new(&record.password_hash).expect("a PHC string");
    assert_eq!(parsed.algorithm, argon2::ARGON2ID_IDENT);
    // Each hash has its own salt.
    accounts
        .register("bob", "correct-horse")
        .await
        .expect("register");
    let bob = store.account("bob").await.expect("lookup").expect("bob");
    assert_ne!(bob.password_hash, record.password_hash);
}

#[tokio::test]
async fn a_name_is_taken_in_any_case() {
    let accounts = accounts();
    accounts
        .register("Alice", "correct-horse")
        .await
        .expect("register");
    assert_eq!(
        accounts.register("aLICE", "another-one").await,
        Err(AccountError::Taken("aLICE".into()))
    );
    // The first registration stands.
    assert!(
        accounts
            .login("alice", "correct-horse", address(HOME))
            .await
            .is_ok()
    );
    assert_eq!(
        accounts.login("alice", "another-one", address(HOME)).await,
        Err(AccountError::BadCredentials)
    );
}

#[tokio::test]
async fn concurrent_registrations_of_one_name_let_one_win() {
    let accounts = accounts();
    let racers: Vec<_> = ["Alice", "alice", "ALICE", "aLiCe"]
        .into_iter()
        .map(|name| {
            let accounts = accounts.clone();
            tokio::spawn(async move { accounts.register(name, "correct-horse").await })
        })
        .collect();
    let mut won = 0;
    for racer in racers {
        match racer.await.expect("task") {
            Ok(_) => won += 1,
            Err(AccountError::Taken(_)) => {}
            Err(other) => panic!("unexpected {other}"),
        }
    }
    assert_eq!(won, 1);
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_account_get_the_same_answer() {
    let accounts = accounts();
    accounts
        .register("alice", "correct-horse")
        .await
        .expect("register");
    let wrong_password = accounts
        .login("alice", "battery-staple", address(HOME))
        .await;
    let unknown_account = accounts.login("bob", "correct-horse", address(2)).await;
    assert_eq!(wrong_password, Err(AccountError::BadCredentials));
    assert_eq!(unknown_account, wrong_password);
    assert_eq!(
        wrong_password.expect_err("refused").to_string(),
        "wrong account name or password"
    );
    // A password with the right prefix or case is still wrong.
    for almost in ["correct-hors", "correct-horse!", "CORRECT-HORSE"] {
        assert_eq!(
            accounts.login("alice", almost, address(3)).await,
            Err(AccountError::BadCredentials),
            "{almost}"
        );
    }
}

#[test]
fn the_dummy_hash_uses_the_current_default_parameters() {
    let dummy = PasswordHash::new(DUMMY_HASH).expect("the dummy hash parses");
    let fresh = Argon2::default().hash_password(b"anything").expect("hash");
    assert_eq!(dummy.algorithm, fresh.algorithm);
    assert_eq!(dummy.version, fresh.version);
    assert_eq!(dummy.params, fresh.params);
    assert_eq!(
        dummy.hash.map(|output| output.len()),
        fresh.hash.map(|output| output.len())
    );
}

#[tokio::test(start_paused = true)]
async fn failed_logins_are_limited_per_account_and_address() {
    let accounts = accounts();
    accounts
        .register("alice", "correct-horse")
        .await
        .expect("register");
    let started = Instant::now();
    for _ in 0..5 {
        assert_eq!(
            accounts.login("ALICE", "guess", address(HOME)).await,
            Err(AccountError::BadCredentials)
        );
    }
    tokio::time::advance(Duration::from_secs(20)).await;
    // This address has used up its failures for alice: even the right password is refused.
    let refused = accounts
        .login("alice", "correct-horse", address(HOME))
        .await;
    assert_eq!(refused, Err(AccountError::RateLimited { seconds: 40 }));
    assert_eq!(
        refused.expect_err("refused").to_string(),
        "too many failed logins; try again in 40 seconds"
    );
    // The owner, from an address without failures, gets in at once: five failures from one
    // address are no reason to slow anyone down.
    let before = Instant::now();
    assert_eq!(
        accounts.login("alice", "correct-horse", address(2)).await,
        Ok("alice".to_owned())
    );
    assert_eq!(before.elapsed(), Duration::ZERO);
    // Once the window has passed, the first address may try again.
    tokio::time::advance(Duration::from_secs(40)).await;
    assert_eq!(
        accounts
            .login("alice", "correct-horse", address(HOME))
            .await,
        Ok("alice".to_owned())
    );
    assert_eq!(started.elapsed(), Duration::from_secs(60));
}

#[tokio::test(start_paused = true)]
async fn an_account_guessed_from_many_addresses_is_slowed_down_never_locked() {
    let accounts = accounts();
    accounts
        .register("alice", "correct-horse")
        .await
        .expect("register");
    // Each failure from a new address. Five failures are what any one address may make
    // anyway; once the account has more, each attempt waits 1, 2, 4, then 8 seconds.
    let mut waits = Vec::new();
    for last in 10..20 {
        let before = Instant::now();
        assert_eq!(
            accounts.login("alice", "guess", address(last)).await,
            Err(AccountError::BadCredentials)
        );
        waits.push(before.elapsed().as_secs());
    }
    assert_eq!(waits, [0, 0, 0, 0, 0, 0, 1, 2, 4, 8]);
    // The owner, from a clean address, waits at most the cap and gets in.
    let before = Instant::now();
    assert_eq!(
        accounts
            .login("alice", "correct-horse", address(HOME))
            .await,
        Ok("alice".to_owned())
    );
    assert_eq!(before.elapsed(), Duration::from_secs(8));
    // Other accounts are not slowed down.
    accounts
        .register("bob", "correct-horse")
        .await
        .expect("register");
    let before = Instant::now();
    assert!(
        accounts
            .login("bob", "correct-horse", address(HOME))
            .await
            .is_ok()
    );
    assert_eq!(before.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn failed_logins_are_rate_limited_per_address_across_accounts() {
    let accounts = accounts();
    accounts
        .register("alice", "correct-horse")
        .await
        .expect("register");
    for number in 0..10 {
        assert_eq!(
            accounts
                .login(&format!("user{number}"), "guess", address(HOME))
                .await,
            Err(AccountError::BadCredentials)
        );
    }
    assert!(matches!(
        accounts
            .login("alice", "correct-horse", address(HOME))
            .await,
        Err(AccountError::RateLimited { seconds: 60 })
    ));
    // Alice's account has no failures; from elsewhere she gets in.
    assert!(
        accounts
            .login("alice", "correct-horse", address(2))
            .await
            .is_ok()
    );
}

#[tokio::test(start_paused = true)]
async fn a_successful_login_clears_the_addresss_failures_for_that_account_only() {
    let accounts = accounts();
    accounts
        .register("alice", "correct-horse")
        .await
        .expect("register");
    for _ in 0..4 {
        assert_eq!(
            accounts.login("alice", "guess", address(HOME)).await,
            Err(AccountError::BadCredentials)
        );
    }
    accounts
        .login("alice", "correct-horse", address(HOME))
        .await
        .expect("right password");
    // Five more failures on alice from this address fit again...
    for _ in 0..5 {
        assert_eq!(
            accounts.login("alice", "guess", address(HOME)).await,
            Err(AccountError::BadCredentials)
        );
    }
    assert!(matches!(
        accounts.login("alice", "guess", address(HOME)).await,
        Err(AccountError::RateLimited { .. })
    ));
    // ...but the address keeps all nine failures (the success did not count): one more.
    assert_eq!(
        accounts.login("bob", "guess", address(HOME)).await,
        Err(AccountError::BadCredentials)
    );
    assert!(matches!(
        accounts.login("carol", "guess", address(HOME)).await,
        Err(AccountError::RateLimited { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_guesses_get_no_more_than_the_limit() {
    let accounts = accounts();
    accounts
        .register("alice", "correct-horse")
        .await
        .expect("register");
    let guesses: Vec<_> = (0..20)
        .map(|_| {
            let accounts = accounts.clone();
            tokio::spawn(async move { accounts.login("alice", "guess", address(HOME)).await })
        })
        .collect();
    let mut checked = 0;
    for guess in guesses {
        match guess.await.expect("task") {
            Err(AccountError::BadCredentials) => checked += 1,
            Err(AccountError::RateLimited { .. }) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(checked, LoginLimits::default().max_failures);
}

#[tokio::test]
async fn change_password_checks_the_old_one() {
    let accounts = accounts();
    accounts
        .register("Alice", "correct-horse")
        .await
        .expect("register");
    assert_eq!(
        accounts
            .change_password("alice", "wrong-horse", "battery-staple", address(HOME))
            .await,
        Err(AccountError::BadCredentials)
    );
    assert_eq!(
        accounts
            .change_password("nobody", "correct-horse", "battery-staple", address(HOME))
            .await,
        Err(AccountError::BadCredentials)
    );
    assert!(
        accounts
            .login("alice", "correct-horse", address(HOME))
            .await
            .is_ok()
    );

    assert_eq!(
        accounts
            .change_password("alice", "correct-horse", "battery-staple", address(HOME))
            .await,
        Ok(())
    );
    assert_eq!(
        accounts
            .login("ALICE", "battery-staple", address(HOME))
            .await,
        Ok("Alice".to_owned())
    );
    assert_eq!(
        accounts
            .login("alice", "correct-horse", address(HOME))
            .await,
        Err(AccountError::BadCredentials)
    );
}

#[tokio::test]
async fn change_password_refuses_an_unacceptable_new_password_before_checking() {
    let accounts = accounts();
    accounts
        .register("alice", "correct-horse")
        .await
        .expect("register");
    assert_eq!(
        accounts
            .change_password("alice", "correct-horse", "short", address(HOME))
            .await,
        Err(UNACCEPTABLE)
    );
    assert!(
        accounts
            .login("alice", "correct-horse", address(HOME))
            .await
            .is_ok()
    );
}

#[tokio::test(start_paused = true)]
async fn change_password_is_rate_limited_like_login() {
    let accounts = accounts();
    accounts
        .register("alice", "correct-horse")
        .await
        .expect("register");
    for _ in 0..5 {
        assert_eq!(
            accounts
                .change_password("alice", "guess-guess", "battery-staple", address(HOME))
                .await,
            Err(AccountError::BadCredentials)
        );
    }
    assert!(matches!(
        accounts
            .change_password("alice", "correct-horse", "battery-staple", address(HOME))
            .await,
        Err(AccountError::RateLimited { .. })
    ));
}

/// What the default policy answers to an unacceptable password.
const UNACCEPTABLE: AccountError = AccountError::UnacceptablePassword {
    min_bytes: DEFAULT_MIN_PASSWORD_BYTES,
    max_bytes: MAX_PASSWORD_BYTES,
};

#[tokio::test]
async fn unacceptable_passwords_are_refused() {
    let accounts = accounts();
    let too_long = "x".repeat(MAX_PASSWORD_BYTES + 1);
    // 256 four-byte characters: 1024 bytes, fine; one more is too many bytes.
    let longest = "😀".repeat(MAX_PASSWORD_BYTES / 4);
    let too_many_bytes = "😀".repeat(MAX_PASSWORD_BYTES / 4 + 1);
    for bad in [
        "",
        "seven77",
        "has space",
        "tab\there",
        "trailing-newline\n",
        too_long.as_str(),
        too_many_bytes.as_str(),
    ] {
        assert_eq!(
            accounts.register("alice", bad).await,
            Err(UNACCEPTABLE),
            "{bad:?}"
        );
    }
    assert_eq!(accounts.is_registered("alice").await, Ok(false));
    assert_eq!(
        UNACCEPTABLE.to_string(),
        "a password must be 8 to 1024 bytes and not contain spaces"
    );
    for (name, good) in [
        ("alice", "eight888"),
        ("bob", "x".repeat(MAX_PASSWORD_BYTES).as_str()),
        ("carol", longest.as_str()),
    ] {
        assert_eq!(accounts.register(name, good).await, Ok(name.to_owned()));
        assert!(accounts.login(name, good, address(HOME)).await.is_ok());
    }
}

#[tokio::test]
async fn the_shortest_password_is_configurable_and_named_in_the_refusal() {
    let accounts = Accounts::new(
        store(),
        LoginLimits::default(),
        RegistrationPolicy {
            min_bytes: 3,
            ..RegistrationPolicy::default()
        },
    );
    assert_eq!(
        accounts.register("alice", "ab").await,
        Err(AccountError::UnacceptablePassword {
            min_bytes: 3,
            max_bytes: MAX_PASSWORD_BYTES
        })
    );
    assert_eq!(
        accounts
            .register("alice", "ab")
            .await
            .unwrap_err()
            .to_string(),
        "a password must be 3 to 1024 bytes and not contain spaces"
    );
    assert_eq!(
        accounts.register("alice", "bar").await,
        Ok("alice".to_owned())
    );
    assert!(accounts.login("alice", "bar", address(HOME)).await.is_ok());
    assert_eq!(
        accounts
            .change_password("alice", "bar", "no", address(HOME))
            .await
            .unwrap_err()
            .to_string(),
        "a password must be 3 to 1024 bytes and not contain spaces"
    );
}

#[tokio::test]
async fn account_names_must_be_valid_nicks() {
    let accounts = accounts();
    let too_long = "a".repeat(31);
    for bad in [
        "",
        "9lives",
        "-dash",
        "has space",
        "#room",
        "é",
        too_long.as_str(),
    ] {
        let refused = accounts.register(bad, "correct-horse").await;
        assert!(
            matches!(&refused, Err(AccountError::InvalidName(_))),
            "{bad:?}: {refused:?}"
        );
        let refused = accounts.login(bad, "correct-horse", address(HOME)).await;
        assert!(
            matches!(&refused, Err(AccountError::InvalidName(_))),
            "{bad:?}: {refused:?}"
        );
    }
    assert_eq!(
        accounts.register("9lives", "correct-horse").await,
        Err(AccountError::InvalidName(
            "a nick may not start with a digit or -".into()
        ))
    );
    // Invalid names cost the address no attempts.
    for _ in 0..10 {
        let _ = accounts.login("bad name", "guess", address(HOME)).await;
    }
    assert_eq!(
        accounts.register("[Bot]|x^", "correct-horse").await,
        Ok("[Bot]|x^".to_owned())
    );
    assert!(
        accounts
            .login("[bot]|X^", "correct-horse", address(HOME))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_closed_store_is_a_store_error() {
    let store = store();
    let accounts = Accounts::new(
        store.clone(),
        LoginLimits::default(),
        RegistrationPolicy::default(),
    );
    store.shut_down().await.expect("shut down");
    assert!(matches!(
        accounts.register("alice", "correct-horse").await,
        Err(AccountError::Store(_))
    ));
    assert!(matches!(
        accounts
            .login("alice", "correct-horse", address(HOME))
            .await,
        Err(AccountError::Store(_))
    ));
    assert!(matches!(
        accounts.is_registered("alice").await,
        Err(AccountError::Store(_))
    ));
}

#[tokio::test(start_paused = true)]
async fn store_failures_do_not_count_as_failed_logins() {
    let store = store();
    let limits = LoginLimits {
        max_failures: 1,
        max_failures_per_address: 1,
        ..LoginLimits::default()
    };
    let accounts = Accounts::new(store.clone(), limits, RegistrationPolicy::default());
    store.shut_down().await.expect("shut down");
    for _ in 0..3 {
        assert!(matches!(
            accounts.login("alice", "guess", address(HOME)).await,
            Err(AccountError::Store(_))
        ));
    }
}

/// The client's side of a SCRAM-SHA-256 login (RFC 5802) as `user` with `password`: starts
/// it and returns the login and the client's final message.
async fn scram_exchange(
    accounts: &Accounts,
    user: &str,
    password: &str,
    from: IpAddr,
) -> Result<(ScramLogin, String), AccountError> {
    let bare = format!("n={user},r=rOprNGfwEbeRWgbNEkqO");
    let first = ClientFirst::parse(&format!("n,,{bare}")).expect("client-first");
    let (login, server_first) = accounts.scram_start(first, from).await?;
    let (client_final, _) =
        scram::client_final(password, &bare, &server_first).expect("a server-first message");
    Ok((login, client_final))
}

#[tokio::test]
async fn scram_logs_in_with_the_password_only() {
    let accounts = accounts();
    accounts
        .register("Alice", "correct-horse")
        .await
        .expect("register");
    let (login, client_final) = scram_exchange(&accounts, "alice", "correct-horse", address(HOME))
        .await
        .expect("start");
    let (server_final, account, stamp) = login.finish(&client_final).expect("logged in");
    assert!(server_final.starts_with("v="), "{server_final}");
    assert_eq!(account, "Alice");
    accounts
        .confirm("alice", stamp)
        .await
        .expect("still current");

    let (login, client_final) = scram_exchange(&accounts, "alice", "wrong-horse", address(HOME))
        .await
        .expect("start");
    assert_eq!(
        login.finish(&client_final).map(|(_, account, _)| account),
        Err(AccountError::BadCredentials)
    );
}

#[tokio::test]
async fn scram_for_an_unknown_account_fails_only_at_the_proof_with_a_stable_salt() {
    let accounts = accounts();
    let salt = |server_first: &str| server_first.split(',').nth(1).unwrap().to_owned();
    let (login, client_final) = scram_exchange(&accounts, "nobody", "anything", address(HOME))
        .await
        .expect("an exchange like any other");
    assert_eq!(
        login.finish(&client_final).map(|(_, account, _)| account),
        Err(AccountError::BadCredentials)
    );
    // The same salt for the same name in any case, as a real account's would be.
    let first = |user: &str| ClientFirst::parse(&format!("n,,n={user},r=abc")).unwrap();
    let (_, one) = accounts
        .scram_start(first("nobody"), address(HOME))
        .await
        .unwrap();
    let (_, two) = accounts
        .scram_start(first("Nobody"), address(HOME))
        .await
        .unwrap();
    assert_eq!(salt(&one), salt(&two));
    assert!(one.ends_with(",i=4096"), "{one}");
}

#[tokio::test(start_paused = true)]
async fn wrong_scram_proofs_count_as_failed_logins() {
    let accounts = accounts();
    accounts
        .register("alice", "correct-horse")
        .await
        .expect("register");
    for _ in 0..5 {
        let (login, client_final) = scram_exchange(&accounts, "alice", "guess", address(HOME))
            .await
            .expect("start");
        assert!(login.finish(&client_final).is_err());
    }
    let refused = scram_exchange(&accounts, "alice", "correct-horse", address(HOME)).await;
    assert_eq!(
        refused.err(),
        Some(AccountError::RateLimited { seconds: 60 })
    );
    // An exchange abandoned before its proof is no guess.
    let (abandoned, _) = scram_exchange(&accounts, "alice", "guess", address(2))
        .await
        .expect("start");
    drop(abandoned);
    assert!(
        accounts
            .login("alice", "correct-horse", address(2))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn an_account_from_before_scram_gains_it_at_its_next_password_login() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let path = directory.path().join("accounts.db");
    let config = || StoreConfig::new(path.to_string_lossy().into_owned());
    // As a palaver from before SCRAM credentials left it: an older schema, a hash only.
    let before =
        Store::open_at_version(config(), SCRAM_CREDENTIALS_VERSION - 1).expect("open before SCRAM");
    before.store.shut_down().await.expect("shut down");
    let hash = Argon2::default()
        .hash_password(b"correct-horse")
        .expect("hash")
        .to_string();
    rusqlite::Connection::open(&path)
        .expect("open")
        .execute(
            "INSERT INTO accounts (name_key, name, password_hash, created)
             VALUES ('alice', 'Alice', ?1, 1)",
            [hash],
        )
        .expect("insert");
    let store = Store::open(config()).expect("migrate").store;
    let accounts = Accounts::new(store.clone(), LoginLimits::default(), Default::default());

    let (login, client_final) = scram_exchange(&accounts, "alice", "correct-horse", address(HOME))
        .await
        .expect("start");
    let refused = login.finish(&client_final).expect_err("no SCRAM yet");
    assert_eq!(refused, AccountError::NoScramCredentials);
    assert!(refused.to_string().contains("PLAIN"), "{refused}");
    assert_eq!(
        accounts
            .login("alice", "correct-horse", address(HOME))
            .await,
        Ok("Alice".to_owned())
    );
    let record = store
        .account("alice")
        .await
        .expect("lookup")
        .expect("alice");
    assert!(record.scram_sha_256.is_some());
    let (login, client_final) = scram_exchange(&accounts, "alice", "correct-horse", address(HOME))
        .await
        .expect("start");
    assert!(login.finish(&client_final).is_ok());
}

#[tokio::test]
async fn a_password_change_replaces_the_scram_credentials_too() {
    let accounts = accounts();
    accounts
        .register("alice", "correct-horse")
        .await
        .expect("register");
    accounts
        .change_password("alice", "correct-horse", "battery-staple", address(HOME))
        .await
        .expect("change");
    let (login, client_final) = scram_exchange(&accounts, "alice", "correct-horse", address(HOME))
        .await
        .expect("start");
    assert!(login.finish(&client_final).is_err());
    let (login, client_final) = scram_exchange(&accounts, "alice", "battery-staple", address(HOME))
        .await
        .expect("start");
    assert!(login.finish(&client_final).is_ok());
}

#[test]
fn email_addresses_are_checked_for_their_shape_only() {
    for good in [
        "a@example.org",
        "first.last+tag@mail.example.co.uk",
        "\"odd\"@example.org",
    ] {
        assert!(is_plausible_email(good), "{good}");
    }
    let long_local = format!("{}@example.org", "x".repeat(65));
    let too_long = format!("a@{}.org", "x".repeat(MAX_EMAIL_BYTES));
    for bad in [
        "",
        "nobody",
        "@example.org",
        "a@localhost",
        "a@example.",
        "a@.org",
        "a@b..org",
        "a b@example.org",
        "a@exa\tmple.org",
        long_local.as_str(),
        too_long.as_str(),
    ] {
        assert!(!is_plausible_email(bad), "{bad:?}");
    }
}

#[tokio::test]
async fn an_email_address_is_optional_unless_required() {
    let accounts = accounts();
    assert_eq!(
        accounts
            .register_with_email("alice", "alice-password", Some("nope"), None)
            .await,
        Err(AccountError::InvalidEmail("nope".into()))
    );
    assert_eq!(
        accounts.register("alice", "alice-password").await,
        Ok("alice".into())
    );
    let strict = Accounts::new(
        store(),
        LoginLimits::default(),
        RegistrationPolicy {
            require_email: true,
            ..RegistrationPolicy::default()
        },
    );
    assert!(strict.requires_email());
    assert_eq!(
        strict.register("bob", "bob-password").await,
        Err(AccountError::EmailRequired)
    );
    assert_eq!(strict.is_registered("bob").await, Ok(false));
    assert_eq!(
        strict
            .register_with_email("bob", "bob-password", Some("bob@example.org"), None)
            .await,
        Ok("bob".into())
    );
}

#[tokio::test]
async fn a_locked_account_refuses_every_login_with_the_right_credentials_only() {
    let store = store();
    let accounts = Accounts::new(
        store.clone(),
        LoginLimits::default(),
        RegistrationPolicy::default(),
    );
    accounts
        .register("Alice", "correct-horse")
        .await
        .expect("register");
    store
        .add_certificate("alice", "ab12")
        .await
        .expect("add a certificate");
    let (_, stamp) = accounts
        .login_stamped("alice", "correct-horse", address(HOME))
        .await
        .expect("log in before the lock");

    assert_eq!(
        accounts.lock("ALICE", "spamming", "ops").await,
        Ok("Alice".to_owned())
    );
    let locked = Err(AccountError::Locked {
        account: "Alice".into(),
        reason: "spamming".into(),
    });
    assert_eq!(
        accounts
            .login("alice", "correct-horse", address(HOME))
            .await,
        locked.clone()
    );
    // Without the password, nothing tells the account is locked.
    assert_eq!(
        accounts.login("alice", "wrong-horse", address(HOME)).await,
        Err(AccountError::BadCredentials)
    );
    let (login, client_final) = scram_exchange(&accounts, "alice", "correct-horse", address(HOME))
        .await
        .expect("start");
    assert_eq!(
        login.finish(&client_final).map(|(_, account, _)| account),
        locked.clone()
    );
    assert_eq!(
        accounts
            .certificate_login("ab12")
            .await
            .map(|(account, _)| account),
        locked.clone()
    );
    // A login checked before the lock is undone when confirmed after it.
    assert_eq!(
        accounts.confirm("alice", stamp).await,
        locked.clone().map(|_| ())
    );
    // Nor can the password be changed, which takes a login.
    assert_eq!(
        accounts
            .change_password("alice", "correct-horse", "other-horse", address(HOME))
            .await,
        locked.map(|_| ())
    );
    let lock = accounts.details("alice").await.expect("details").locked;
    let lock = lock.expect("locked");
    assert_eq!(
        (lock.reason.as_str(), lock.by.as_str()),
        ("spamming", "ops")
    );

    assert_eq!(
        accounts.unlock("alice", "ops").await,
        Ok(("Alice".to_owned(), true))
    );
    assert_eq!(
        accounts.unlock("alice", "ops").await,
        Ok(("Alice".to_owned(), false))
    );
    assert_eq!(
        accounts
            .login("alice", "correct-horse", address(HOME))
            .await,
        Ok("Alice".to_owned())
    );
    assert_eq!(
        accounts
            .certificate_login("ab12")
            .await
            .map(|(account, _)| account),
        Ok("Alice".to_owned())
    );
}

#[tokio::test]
async fn locking_an_unknown_account_says_so() {
    let accounts = accounts();
    let unknown = Err(AccountError::NoSuchAccount("bob".into()));
    assert_eq!(accounts.lock("bob", "spam", "ops").await, unknown.clone());
    assert_eq!(
        accounts.unlock("bob", "ops").await,
        unknown.map(|name| (name, false))
    );
    assert_eq!(
        accounts
            .certificate_login("ab12")
            .await
            .map(|(account, _)| account),
        Err(AccountError::BadCredentials)
    );
}
