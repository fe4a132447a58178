//! `ModelRef` parsing at its boundaries and printing.

use mlcycle::registry::ModelRef;

#[test]
fn version_zero_is_refused_in_every_spelling_and_version_one_accepted() {
    for bad in [
        "churn@v0",
        "churn/0",
        "churn/v0",
        "models:/churn@v0",
        "models:/churn/0",
    ] {
        let e = ModelRef::parse(bad).unwrap_err().to_string();
        assert!(e.contains("not a positive number"), "{bad}: {e}");
    }
    for (good, v) in [
        ("churn@v1", 1),
        ("churn/1", 1),
        ("churn/v1", 1),
        ("churn@v4294967295", u32::MAX),
    ] {
        assert_eq!(
            ModelRef::parse(good).unwrap(),
            ModelRef::Version {
                name: "churn".into(),
                version: v
            },
            "{good}"
        );
    }
    assert!(ModelRef::parse("churn@v4294967296").is_err());
    assert!(ModelRef::parse("churn@").is_err());
}

#[test]
fn display_then_parse_is_the_same_reference_for_every_form() {
    let refs = [
        ModelRef::Version {
            name: "churn".into(),
            version: 1,
        },
        ModelRef::Version {
            name: "a.b-c_d".into(),
            version: 4_000_000_000,
        },
        ModelRef::Alias {
            name: "churn".into(),
            alias: "production".into(),
        },
        ModelRef::Alias {
            name: "churn".into(),
            alias: "canary-2".into(),
        },
        ModelRef::Latest {
            name: "churn".into(),
        },
    ];
    let printed: Vec<String> = refs.iter().map(ToString::to_string).collect();
    assert_eq!(
        printed,
        [
            "churn/1",
            "a.b-c_d/4000000000",
            "churn@production",
            "churn@canary-2",
            "churn@latest"
        ]
    );
    for (r, s) in refs.iter().zip(&printed) {
        assert_eq!(&ModelRef::parse(s).unwrap(), r, "{s}");
        assert_eq!(&ModelRef::parse(&format!("models:/{s}")).unwrap(), r, "{s}");
    }
}
