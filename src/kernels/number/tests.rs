//! Every reader against the scalar reference and against `str::parse::<f64>`, bit for bit.

use super::json::scan_number_general;
use super::reference;
use super::*;
use rand::{Rng, SeedableRng};

type Rng8 = rand_chacha::ChaCha8Rng;

/// xorshift64*: a small deterministic generator for the random cases.
fn next(state: &mut u64, n: u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) % n
}

fn bits(r: Option<(f64, usize)>) -> Option<(u64, usize)> {
    r.map(|(v, n)| (v.to_bits(), n))
}

/// The sixteen-byte CSV reader on the first `len` bytes of `l` (`Some(None)` when it does
/// not take them), or `None` where the processor lacks it.
fn simd_field(l: &[u8], len: usize) -> Option<Option<f64>> {
    #[cfg(target_arch = "x86_64")]
    if let Some(t) = crate::kernels::simd::Sse41::detect() {
        let window: &[u8; 16] = l[..16].try_into().unwrap();
        let block = crate::kernels::simd::Block16::load(window);
        return Some(if len < 16 {
            t.parse_decimal16(block, len, (1 << len) - 1)
        } else {
            None
        });
    }
    let _ = (l, len);
    None
}

/// Whether `t` is a JSON number (the grammar written out once more, as a test oracle).
fn is_json_number(t: &str) -> bool {
    let b = t.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let s = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - s
    };
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            digits(&mut i);
        }
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// A token of one of many shapes: shortest text of a random double (plain or with an
/// exponent), long significands, exponent extremes, signs, leading zeros, and junk.
fn random_token(rng: &mut Rng8) -> String {
    let digits = |rng: &mut Rng8, n: usize| -> String {
        (0..n)
            .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
            .collect()
    };
    let sign = |rng: &mut Rng8| match rng.random_range(0..6u32) {
        0 | 1 => "-",
        2 => "+",
        _ => "",
    };
    match rng.random_range(0..10u32) {
        0 => {
            let v = f64::from_bits(rng.random::<u64>());
            if v.is_finite() {
                format!("{v}")
            } else {
                "1".into()
            }
        }
        1 => {
            let v = f64::from_bits(rng.random::<u64>());
            if v.is_finite() {
                format!("{v:e}")
            } else {
                "NaN".into()
            }
        }
        2 => {
            // Shortest text of doubles of everyday magnitudes.
            let v = (rng.random::<f64>() - 0.5) * 10f64.powi(rng.random_range(-12..12));
            format!("{v}")
        }
        3 => {
            // Long significands, with the point anywhere.
            let mut s = {
                let n = rng.random_range(1..=40);
                digits(rng, n)
            };
            let at = rng.random_range(0..=s.len());
            s.insert(at, '.');
            format!("{}{s}", sign(rng))
        }
        4 => {
            // Exponent extremes.
            let e = [
                -400, -350, -325, -324, -323, -309, -308, -307, -23, -22, 22, 23, 307, 308, 309,
                400,
            ][rng.random_range(0..16)];
            let m = {
                let n = rng.random_range(1..=20);
                digits(rng, n)
            };
            let m = m.trim_start_matches('0');
            let m = if m.is_empty() { "1" } else { m };
            let e_char = if rng.random::<bool>() { 'e' } else { 'E' };
            format!("{}{}.{}{e_char}{e}", sign(rng), &m[..1], &m[1..])
        }
        5 => {
            // Leading zeros, in the integer part or the fraction.
            let z = "0".repeat(rng.random_range(1..=20));
            let d = {
                let n = rng.random_range(0..=8);
                digits(rng, n)
            };
            if rng.random::<bool>() {
                format!("{}{z}{d}", sign(rng))
            } else {
                format!("{}0.{z}{d}", sign(rng))
            }
        }
        6 => {
            // Plain decimals of every length.
            let a = {
                let n = rng.random_range(0..=20);
                digits(rng, n)
            };
            let b = {
                let n = rng.random_range(0..=20);
                digits(rng, n)
            };
            match rng.random_range(0..3u32) {
                0 => format!("{}{a}", sign(rng)),
                _ => format!("{}{a}.{b}", sign(rng)),
            }
        }
        7 => {
            // Junk from the characters numbers are made of.
            let pick = b"0123456789.-+eE x";
            (0..rng.random_range(0..=12))
                .map(|_| char::from(pick[rng.random_range(0..pick.len())]))
                .collect()
        }
        8 => {
            let v = rng.random_range(-1_000_000_000i64..1_000_000_000);
            format!("{}.{:06}", v / 1_000_000, (v % 1_000_000).unsigned_abs())
        }
        _ => format!("{}{}", sign(rng), {
            let n = rng.random_range(1..=8);
            digits(rng, n)
        }),
    }
}

/// Random tokens of every shape: the JSON readers (SSSE3 where there, word-wise, and the
/// reference) agree with each other on every text, and with `str::parse` on every JSON
/// number; the CSV readers (word-wise, sixteen-byte, and the reference) agree with each
/// other and with `str::parse` on every plain decimal they take, and the fast ones take
/// every plain decimal they are meant to.
#[test]
fn every_variant_agrees_with_the_reference_and_the_standard_parser() {
    let mut rng = Rng8::seed_from_u64(77);
    let pad = "0".repeat(40);
    let (mut json_taken, mut plain_taken, mut simd_taken) = (0usize, 0usize, 0usize);
    for _ in 0..200_000 {
        let t = random_token(&mut rng);
        let std = t.parse::<f64>().ok();
        let json = is_json_number(&t);
        // JSON: the token alone, followed by a separator and padding, and after 16 bytes.
        for (text, at) in [
            (t.clone(), 0),
            (format!("{t},{pad}"), 0),
            (format!("[[[[[[[[[[[[[[[[{t}]{pad}"), 16),
        ] {
            let b = text.as_bytes();
            let want = bits(reference::json_number(b, at));
            assert_eq!(bits(scan_number(b, at)), want, "{text}");
            assert_eq!(bits(scan_number_general(b, at)), want, "{text}");
            match want {
                Some((v, end)) if end == at + t.len() => {
                    assert!(json, "{t} is not JSON");
                    assert_eq!(Some(v), std.map(f64::to_bits), "{t}");
                    json_taken += 1;
                }
                Some(_) => assert!(!json, "{t}: a JSON number read in part"),
                None => assert!(!json || std.is_some_and(|v| !v.is_finite()), "{t} refused"),
            }
        }
        // CSV plain decimals: alone (the byte path) and with room for word reads.
        for text in [t.clone(), format!("{t},{pad}")] {
            let b = text.as_bytes();
            let want = bits(reference::plain_decimal(b));
            assert_eq!(bits(parse_plain(b)), want, "{text}");
            if let Some((v, n)) = want {
                assert_eq!(
                    Some(v),
                    text[..n].parse::<f64>().ok().map(f64::to_bits),
                    "{text}"
                );
                plain_taken += 1;
            }
        }
        let padded = format!("{t},{pad}");
        let whole = reference::plain_decimal(padded.as_bytes()).filter(|&(_, n)| n == t.len());
        if let Some(v) = parse_field(padded.as_bytes(), 0, t.len()) {
            assert_eq!(Some(v.to_bits()), whole.map(|(w, _)| w.to_bits()), "{t}");
        }
        if let Some(got) = simd_field(padded.as_bytes(), t.len()) {
            let digits = t.bytes().filter(u8::is_ascii_digit).count();
            match got {
                Some(v) => {
                    assert_eq!(Some(v.to_bits()), whole.map(|(w, _)| w.to_bits()), "{t}");
                    simd_taken += 1;
                }
                None => assert!(
                    whole.is_none() || t.len() >= 16 || digits > 15,
                    "{t} should parse on the sixteen-byte path"
                ),
            }
        }
    }
    assert!(json_taken > 100_000, "too few JSON numbers: {json_taken}");
    assert!(
        plain_taken > 50_000,
        "too few plain decimals: {plain_taken}"
    );
    assert!(
        simd_field(b"1.5,000000000000000", 3).is_none() || simd_taken > 10_000,
        "too few took the sixteen-byte path: {simd_taken}"
    );
}

/// A random JSON number: sign, integer part, fraction and exponent of random lengths.
fn random_number(state: &mut u64) -> String {
    let mut s = String::new();
    if next(state, 2) == 0 {
        s.push('-');
    }
    let int_digits = next(state, 22);
    if int_digits == 0 {
        s.push('0');
    } else {
        s.push(char::from(b'1' + next(state, 9) as u8));
        for _ in 1..int_digits {
            s.push(char::from(b'0' + next(state, 10) as u8));
        }
    }
    if next(state, 3) > 0 {
        s.push('.');
        for _ in 0..1 + next(state, 22) {
            s.push(char::from(b'0' + next(state, 10) as u8));
        }
    }
    if next(state, 3) == 0 {
        s.push(if next(state, 2) == 0 { 'e' } else { 'E' });
        match next(state, 3) {
            0 => s.push('-'),
            1 => s.push('+'),
            _ => {}
        }
        let range = if next(state, 4) == 0 { 400 } else { 30 };
        s.push_str(&next(state, range).to_string());
    }
    s
}

/// The token alone, and followed by each kind of byte that ends a number in JSON and
/// enough bytes for the 32-byte fast path: the same value and end every time, and all
/// paths agree.
fn check(c: &str) {
    let expected = c.parse::<f64>().unwrap();
    let pad = "0".repeat(40);
    for text in [
        c.to_string(),
        format!("{c},{pad}"),
        format!("{c}]{pad}"),
        format!("{c} {pad}"),
        format!("{c}}}{pad}"),
    ] {
        // Also after 16 other bytes, so the fraction can be read ending at the token.
        let after = format!("[[[[[[[[[[[[[[[[{text}");
        for (text, at) in [(text.as_str(), 0), (after.as_str(), 16)] {
            match scan_number(text.as_bytes(), at) {
                Some((v, end)) => {
                    assert_eq!(v.to_bits(), expected.to_bits(), "{text}");
                    assert_eq!(end, at + c.len(), "{text}");
                }
                None => assert!(!expected.is_finite(), "{text} refused"),
            }
        }
        let general = bits(scan_number_general(text.as_bytes(), 0));
        assert_eq!(general, bits(scan_number(text.as_bytes(), 0)), "{text}");
        assert_eq!(
            general,
            bits(reference::json_number(text.as_bytes(), 0)),
            "{text}"
        );
    }
}

#[test]
fn numbers_read_exactly_as_the_standard_parser() {
    let mut cases: Vec<String> = [
        "0",
        "-0",
        "1",
        "-1",
        "0.1",
        "-0.0",
        "1e10",
        "1E-7",
        "2.5e+3",
        "9007199254740992",
        "9007199254740993",
        "9007199254740993.0",
        "9007199254740993.00",
        "9007199254740995.000",
        "4503599627370496.5",
        "4503599627370497.5",
        "-9007199254740992e-22",
        "9007199254740992e22",
        "9007199254740993e22",
        "9007199254740992e23",
        "1e22",
        "1e23",
        "1e-22",
        "1e-23",
        "1234567890123456789",
        "12345678901234567890",
        "9999999999999999999",
        "9999999999999999999e-22",
        "9999999999999999999e22",
        "0.0000000000000000000001",
        "0.00000000000000000000001",
        "0.30000000000000004",
        "0.1000000000000000055511151231257827021181583404541015625",
        "123.456e-5",
        "0e0",
        "0.000000000000000000000000000000000000000000001e40",
        "1.50",
        "52000.000",
        "4.9406564584124654e-324",
        "2.4703282292062327e-324",
        "2.2250738585072011e-308",
        "1.7976931348623157e308",
        "3.141592653589793238462643383279",
        "18446744073709551615",
        "18446744073709551616",
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    cases.extend((0..20_000).map(|_| random_number(&mut state)));
    // What clients send when they print doubles: the shortest round-trip text of random
    // doubles of many magnitudes (mostly 15–17 significant digits).
    for _ in 0..30_000 {
        let bits = next(&mut state, u64::MAX);
        let v = f64::from_bits(bits);
        if v.is_finite() {
            cases.push(format!("{v}"));
            cases.push(format!("{v:e}"));
        }
        let scale = 10f64.powi(next(&mut state, 30) as i32 - 15);
        let u = (next(&mut state, 1 << 53) as f64 / (1u64 << 53) as f64 - 0.5) * scale;
        cases.push(format!("{u}"));
    }
    // 16–19 significant digits with every exponent the exact conversions take.
    for _ in 0..30_000 {
        let digits = 16 + next(&mut state, 4) as usize;
        let mut s: String = (0..digits)
            .map(|_| char::from(b'0' + next(&mut state, 10) as u8))
            .collect();
        s.replace_range(0..1, &(1 + next(&mut state, 9)).to_string());
        let e = next(&mut state, 45) as i64 - 22;
        cases.push(format!("{s}e{e}"));
        let point = 1 + next(&mut state, digits as u64 - 1) as usize;
        s.insert(point, '.');
        cases.push(s);
    }
    for c in &cases {
        check(c);
    }
}

#[test]
fn ties_and_near_ties_go_the_exact_way() {
    // Exact midpoints between neighbouring doubles written with 16–19 digits and a
    // negative exponent: the reciprocal cannot decide these and must hand them over.
    let mut state = 0x5eed_5eedu64;
    for _ in 0..20_000 {
        let m = (1u64 << 52) + next(&mut state, 1 << 52);
        // m + 1/2 at scale 1 is the midpoint of m and m + 1 (53-bit doubles).
        check(&format!("{m}.5"));
        // The same value with trailing zeros (more digits, same value).
        check(&format!("{m}.50"));
        // Just off the midpoint on either side.
        check(&format!("{m}.499"));
        check(&format!("{m}.501"));
        let k = 1 + next(&mut state, 3) as usize;
        check(&format!("{m}5e-{k}"));
    }
}

#[test]
fn compact_rows_are_read_whole_or_left_alone() {
    let mut state = 0x0c0f_fee0u64;
    for width in 1..=40usize {
        for _ in 0..200 {
            let cells: Vec<String> = (0..width).map(|_| random_number(&mut state)).collect();
            let row = format!("[{}]", cells.join(","));
            // After 16 bytes, and followed by more JSON, as inside a request body.
            let body = format!("{{\"data\": [[1],{row},[2]]}}");
            let start = body.find(&row).unwrap() + 1;
            let mut values = vec![0.0; width];
            let expected: Vec<f64> = cells.iter().map(|c| c.parse().unwrap()).collect();
            match scan_compact_row(body.as_bytes(), start, &mut values) {
                Some(end) => {
                    assert_eq!(end, start + row.len() - 1, "{row}");
                    for (v, e) in values.iter().zip(&expected) {
                        assert_eq!(v.to_bits(), e.to_bits(), "{row}");
                    }
                }
                // Only values out of the f64 range are refused.
                None => assert!(expected.iter().any(|e| !e.is_finite()), "{row}"),
            }
            // The word-wise row reader gives the same.
            let mut general = vec![0.0; width];
            let got = json::compact_row_with(body.as_bytes(), start, &mut general, |b, at| {
                scan_number_general(b, at)
            });
            if got.is_some() {
                assert_eq!(
                    general.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    values.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    "{row}"
                );
            }
            // Too few or too many values for the row: left to the caller.
            let mut more = vec![0.0; width + 1];
            assert_eq!(scan_compact_row(body.as_bytes(), start, &mut more), None);
            if width > 1 {
                let mut fewer = vec![0.0; width - 1];
                assert_eq!(scan_compact_row(body.as_bytes(), start, &mut fewer), None);
            }
        }
    }
    for odd in [
        "[1, 2]",
        "[1 ,2]",
        "[1,2 ]",
        "[1,2,]",
        "[1,,2]",
        "[1,\"2\"]",
        "[1,null]",
        "[1,[2]]",
        "[1,2}",
        "[01,2]",
        "[1,2",
        "[1.5e,2]",
    ] {
        let mut values = [0.0; 2];
        let got = scan_compact_row(odd.as_bytes(), 1, &mut values);
        assert_eq!(got, None, "{odd}");
    }
    let mut none: [f64; 0] = [];
    assert_eq!(scan_compact_row(b"[]", 1, &mut none), None);
}

#[test]
fn malformed_numbers_are_refused() {
    let pad = ",".to_string() + &"0".repeat(40);
    for bad in [
        "01",
        "1.",
        ".5",
        "+1",
        "-",
        "1e",
        "1e+",
        "--1",
        "1e400",
        "-1e400",
        "0x1",
        "1.e5",
        "-.5",
        "0.",
        "1a",
        "1.5.5",
        "-01.5",
        "00",
        "1..5",
        "1.5e",
        "1.5-",
        "1.5+1",
        "-",
        "--",
        "-a",
        "1.2.",
        "123456789012345678.",
        "0.5x",
    ] {
        for text in [bad.to_string(), format!("{bad}{pad}")] {
            for read in [scan_number, reference::json_number] {
                let ok = read(text.as_bytes(), 0).is_some_and(|(_, end)| end == bad.len());
                assert!(!ok, "{text} must not be accepted");
            }
        }
    }
}

#[test]
fn plain_decimals_parse_to_the_correctly_rounded_double() {
    for s in [
        "0",
        "-0",
        "1",
        "-1.5",
        "0.1",
        "0.3",
        "-1.234567",
        "123456.123456789",
        "9007199254740992",
        "1.",
        ".5",
        "-.25",
        "0.000001",
        "1999999.999999",
    ] {
        let (v, n) = parse_plain(s.as_bytes()).unwrap();
        assert_eq!(n, s.len(), "{s}");
        let want: f64 = s.parse().unwrap();
        assert_eq!(v.to_bits(), want.to_bits(), "{s}");
    }
    assert_eq!(parse_plain(b"1.5,2").map(|p| p.1), Some(3));
    for s in [
        "",
        "-",
        ".",
        "+1",
        "9007199254740993",
        "123456789.123456789",
        "12345678901234567890",
        "x1",
    ] {
        assert!(parse_plain(s.as_bytes()).is_none(), "{s}");
        assert!(reference::plain_decimal(s.as_bytes()).is_none(), "{s}");
    }
    // An exponent stops the plain parse; the caller then sees a non-separator.
    assert_eq!(parse_plain(b"1e5").map(|p| p.1), Some(1));
    // The same with room for word-wide reads after the number.
    assert_eq!(parse_plain(b"1e5,1,2,3,4,5,6,7,8").map(|p| p.1), Some(1));
    assert_eq!(parse_plain(b"9007199254740993,00000000").map(|p| p.1), None);
    assert_eq!(parse_plain(b"12345678901234567890,0000").map(|p| p.1), None);
}

/// Random plain decimals of every shape, followed by a separator and more text (the
/// word-wide path) or alone (the byte path): the same bits as `str::parse`, or `None`
/// only where the fast path does not apply (more than 19 digits or a significand
/// above 2^53).
#[test]
fn random_plain_decimals_match_the_standard_parser() {
    let mut rng = Rng8::seed_from_u64(5);
    let digits = |rng: &mut Rng8, n: usize| -> String {
        (0..n)
            .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
            .collect()
    };
    let (mut fast, mut field_fast, mut simd_fast) = (0usize, 0usize, 0usize);
    for case in 0..300_000 {
        let int_len = rng.random_range(0..=20usize);
        let frac_len = rng.random_range(0..=20usize);
        let mut s = String::new();
        if rng.random::<bool>() {
            s.push('-');
        }
        s.push_str(&digits(&mut rng, int_len));
        let point = frac_len > 0 || rng.random::<bool>();
        if point {
            s.push('.');
            s.push_str(&digits(&mut rng, frac_len));
        }
        let n_digits = int_len + frac_len;
        let want = if n_digits > 0 {
            Some(s.parse::<f64>().unwrap())
        } else {
            None
        };
        let sig: u128 = s.bytes().filter(u8::is_ascii_digit).fold(0u128, |a, c| {
            a.saturating_mul(10).saturating_add(u128::from(c - b'0'))
        });
        let applies = n_digits > 0 && n_digits <= 19 && sig <= 1u128 << 53;
        let tail = if case % 2 == 0 { ",1.5,2,3\n" } else { "" };
        let text = format!("{s}{tail}");
        let padded = format!("{s},000000000000000");
        if let Some(v) = parse_field(padded.as_bytes(), 0, s.len()) {
            assert!(applies, "{s}");
            assert_eq!(v.to_bits(), want.unwrap().to_bits(), "{s}");
            field_fast += 1;
        }
        // The sixteen-byte parser takes every plain decimal of at most fifteen bytes
        // (sign included).
        if let Some(got) = simd_field(padded.as_bytes(), s.len()) {
            let short = s.len() <= 15;
            match got {
                Some(v) => {
                    assert!(applies, "{s}");
                    assert_eq!(v.to_bits(), want.unwrap().to_bits(), "{s}");
                    simd_fast += 1;
                }
                None => assert!(!(applies && short), "{s} should parse on the SIMD path"),
            }
        }
        match parse_plain(text.as_bytes()) {
            Some((v, n)) => {
                assert!(applies, "{s} should need the general parser");
                assert_eq!(n, s.len(), "{s}");
                assert_eq!(v.to_bits(), want.unwrap().to_bits(), "{s}");
                fast += 1;
            }
            None => assert!(!applies, "{s} should parse on the fast path"),
        }
    }
    assert!(fast > 50_000, "too few cases took the fast path: {fast}");
    assert!(
        field_fast > 5_000,
        "too few took the indexed path: {field_fast}"
    );
    assert!(
        simd_field(b"1.5,000000000000000", 3).is_none() || simd_fast > 20_000,
        "too few took the SIMD path: {simd_fast}"
    );
}

/// Six-decimal values like the benchmark's, near powers of ten and halfway cases.
#[test]
fn typical_and_edge_values_round_trip() {
    let mut rng = Rng8::seed_from_u64(9);
    let mut cases: Vec<String> = (0..100_000)
        .map(|_| {
            let v = (rng.random::<f64>() * 4.0 - 2.0) * 1e6;
            format!("{}", v.round() / 1e6)
        })
        .collect();
    cases.extend(
        [
            "4503599627370495.5",
            "9007199254740991",
            "9007199254740992",
            "0.1000000000000000",
            "999999999999999999",
            "0.000000000000000001",
            "1.7976931348623157",
            "2.2250738585072014",
            "00000000000000000001",
            "-0.0",
            "12345678.12345678",
            "1234567812345678",
            "0.123456789012345678",
        ]
        .map(String::from),
    );
    for (i, s) in cases.into_iter().enumerate() {
        let text = format!("{s},0,0,0,0\n");
        let got = parse_plain(text.as_bytes());
        assert!(
            i >= 100_000 || got.is_some(),
            "{s} should parse on the fast path"
        );
        let padded = format!("{text}000000000000000");
        let field = parse_field(padded.as_bytes(), 0, s.len());
        assert!(
            i >= 100_000 || field.is_some(),
            "{s} should parse on the indexed path"
        );
        if let Some(v) = field {
            assert_eq!(v.to_bits(), s.parse::<f64>().unwrap().to_bits(), "{s}");
        }
        if let Some(simd) = simd_field(padded.as_bytes(), s.len()) {
            assert!(
                i >= 100_000 || simd.is_some(),
                "{s} should parse on the SIMD path"
            );
            if let Some(v) = simd {
                assert_eq!(v.to_bits(), s.parse::<f64>().unwrap().to_bits(), "{s}");
            }
        }
        if let Some((v, n)) = got {
            assert_eq!(n, s.len(), "{s}");
            assert_eq!(v.to_bits(), s.parse::<f64>().unwrap().to_bits(), "{s}");
        }
    }
}
