use super::*;

fn twilio_raw() -> RawSipTrunkConfig {
    RawSipTrunkConfig {
        address: Some("example.pstn.twilio.com".into()),
        numbers: Some(vec!["+15550100000".into()]),
        username: Some(Some("ACxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx".into())),
        password: Some(Some("your_auth_token_here".into())),
        transport: None,
        media_encryption: None,
    }
}

fn fields(e: &ValidationErrors) -> Vec<&str> {
    e.0.iter().map(|f| f.field.as_str()).collect()
}

#[test]
fn seed_000_twilio_example_is_valid_with_defaults() {
    let c = twilio_raw()
        .validate(TrunkType::Twilio, "trunk_config")
        .unwrap();
    assert_eq!(c.address.to_string(), "example.pstn.twilio.com");
    assert_eq!(c.numbers, vec![E164::from_trusted("+15550100000".into())]);
    assert_eq!(c.transport, Transport::Auto);
    assert_eq!(c.media_encryption, MediaEncryption::Disabled);
    assert_eq!(
        c.password.as_ref().map(Secret::expose),
        Some("your_auth_token_here")
    );
}

#[test]
fn every_missing_required_field_is_named() {
    let e = RawSipTrunkConfig::default()
        .validate(TrunkType::Twilio, "trunk_config")
        .unwrap_err();
    assert_eq!(
        fields(&e),
        vec![
            "trunk_config.address",
            "trunk_config.numbers",
            "trunk_config.username",
            "trunk_config.password"
        ]
    );
    assert!(e.0.iter().all(|f| f.message.contains("required")));
}

#[test]
fn credentials_are_optional_for_sip_and_telnyx_but_must_pair() {
    let mut raw = twilio_raw();
    raw.username = None;
    raw.password = None;
    assert!(raw.validate(TrunkType::Sip, "c").is_ok());
    assert!(raw.validate(TrunkType::Telnyx, "c").is_ok());
    assert!(raw.validate(TrunkType::Twilio, "c").is_err());
    raw.username = Some(Some("u".into()));
    assert_eq!(
        fields(&raw.validate(TrunkType::Sip, "c").unwrap_err()),
        vec!["c.password"]
    );
    raw.username = None;
    raw.password = Some(Some("p".into()));
    assert_eq!(
        fields(&raw.validate(TrunkType::Sip, "c").unwrap_err()),
        vec!["c.username"]
    );
}

#[test]
fn numbers_are_deduplicated_in_order_and_each_bad_one_named() {
    let mut raw = twilio_raw();
    raw.numbers = Some(vec![
        "+15550100001".into(),
        "+15550100000".into(),
        "+15550100001".into(),
    ]);
    let c = raw.validate(TrunkType::Twilio, "c").unwrap();
    let got: Vec<_> = c.numbers.iter().map(E164::as_str).collect();
    assert_eq!(got, vec!["+15550100001", "+15550100000"]);

    raw.numbers = Some(vec![
        "+15550100001".into(),
        "5550100000".into(),
        "+1 555".into(),
    ]);
    let e = raw.validate(TrunkType::Twilio, "c").unwrap_err();
    assert_eq!(fields(&e), vec!["c.numbers[1]", "c.numbers[2]"]);

    raw.numbers = Some(vec![]);
    let e = raw.validate(TrunkType::Twilio, "c").unwrap_err();
    assert_eq!(fields(&e), vec!["c.numbers"]);
}

#[test]
fn transport_and_media_encryption_table() {
    for (t, ok) in [
        ("auto", true),
        ("udp", true),
        ("tcp", true),
        ("tls", true),
        ("UDP", false),
        ("ws", false),
        ("", false),
    ] {
        let mut raw = twilio_raw();
        raw.transport = Some(t.into());
        assert_eq!(
            raw.validate(TrunkType::Twilio, "c").is_ok(),
            ok,
            "transport {t:?}"
        );
    }
    for (m, ok) in [
        ("disabled", true),
        ("allowed", true),
        ("required", true),
        ("on", false),
    ] {
        let mut raw = twilio_raw();
        raw.media_encryption = Some(m.into());
        assert_eq!(
            raw.validate(TrunkType::Twilio, "c").is_ok(),
            ok,
            "media_encryption {m:?}"
        );
    }
    let mut raw = twilio_raw();
    raw.transport = Some("ws".into());
    let e = raw.validate(TrunkType::Twilio, "c").unwrap_err();
    assert!(
        e.0[0]
            .message
            .contains("\"auto\", \"udp\", \"tcp\", \"tls\""),
        "{}",
        e
    );
}

#[test]
fn patch_keeps_what_it_does_not_name() {
    let current = twilio_raw().validate(TrunkType::Twilio, "c").unwrap();
    let patch = RawSipTrunkConfig {
        numbers: Some(vec!["+15550100009".into()]),
        ..Default::default()
    };
    let next = patch
        .apply_to(&current, TrunkType::Twilio, "trunk_config")
        .unwrap();
    assert_eq!(next.numbers[0].as_str(), "+15550100009");
    assert_eq!(next.address, current.address);
    assert_eq!(next.password, current.password);

    // Clearing credentials is refused for twilio, allowed for a generic SIP trunk.
    let clear = RawSipTrunkConfig {
        username: Some(None),
        password: Some(None),
        ..Default::default()
    };
    assert!(clear.apply_to(&current, TrunkType::Twilio, "c").is_err());
    let cleared = clear.apply_to(&current, TrunkType::Sip, "c").unwrap();
    assert_eq!(cleared.username, None);
    assert_eq!(cleared.password, None);
}

fn exotel_raw() -> RawExotelConfig {
    RawExotelConfig {
        exotel_number: Some("+918044319240".into()),
        ..Default::default()
    }
}

#[test]
fn seed_000_exotel_example_is_valid() {
    let c = exotel_raw().validate("trunk_config").unwrap();
    assert_eq!(c.exotel_number.as_str(), "+918044319240");
    assert_eq!(c.sip_host, None);
}

#[test]
fn exotel_optional_fields_table() {
    let mut raw = exotel_raw();
    raw.sip_host = Some(Some("pstn.in2.exotel.com".into()));
    raw.sip_port = Some(Some(5070));
    raw.sip_domain = Some(Some("acme1.pstn.exotel.com".into()));
    assert!(raw.validate("c").is_ok());

    for port in [0, -1, 65536] {
        let mut raw = exotel_raw();
        raw.sip_port = Some(Some(port));
        assert_eq!(
            fields(&raw.validate("c").unwrap_err()),
            vec!["c.sip_port"],
            "{port}"
        );
    }
    let mut raw = exotel_raw();
    raw.sip_domain = Some(Some("10.0.0.1".into()));
    assert_eq!(
        fields(&raw.validate("c").unwrap_err()),
        vec!["c.sip_domain"]
    );
    let mut raw = exotel_raw();
    raw.sip_host = Some(Some("sip:pstn.exotel.com".into()));
    assert_eq!(fields(&raw.validate("c").unwrap_err()), vec!["c.sip_host"]);
    let mut raw = exotel_raw();
    raw.exotel_number = Some("08044319240".into());
    assert_eq!(
        raw.validate("c").unwrap().exotel_number.as_str(),
        "+918044319240"
    );
    let mut raw = exotel_raw();
    raw.auth_username = Some(Some("u".into()));
    assert_eq!(
        fields(&raw.validate("c").unwrap_err()),
        vec!["c.auth_password"]
    );
    let e = RawExotelConfig::default().validate("c").unwrap_err();
    assert_eq!(fields(&e), vec!["c.exotel_number"]);
}

#[test]
fn stored_round_trip() {
    let cfg = TrunkConfig::Sip(twilio_raw().validate(TrunkType::Twilio, "c").unwrap());
    let public = cfg.public();
    let back = TrunkConfig::from_stored(TrunkType::Twilio, &public, |name| {
        (name == "password").then(|| Secret::new("your_auth_token_here".into()))
    })
    .unwrap();
    assert_eq!(back, cfg);

    let ex = TrunkConfig::Exotel(exotel_raw().validate("c").unwrap());
    assert_eq!(
        TrunkConfig::from_stored(TrunkType::Exotel, &ex.public(), |_| None).unwrap(),
        ex
    );
    assert!(TrunkConfig::from_stored(TrunkType::Twilio, &ex.public(), |_| None).is_err());
}
