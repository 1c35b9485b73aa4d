//! The layering of the code, checked from the sources (docs/decisions.md, "Layering").
//!
//! - `actors/`: a module imports only modules of a lower layer. Bottom to top: `network`,
//!   `custody`, `keystore` → `ledger`, `groups` → `sessions` → `upkeep`, `router` → `front` → `system`; the
//!   utilities (`cancel`) import no module of the crate. So `network/` never names the router, the
//!   front, sessions or upkeep, and `custody/` imports no other actor.
//! - `protocol/src/mpc/`: the op files import one way only, `ops` → `linalg`, `linreg` → `stats` →
//!   `div`, `sqrt`, `shift` → the leaves `bounds`, `spec`; the primitives (`prep`, `open`, `mul`,
//!   `trunc`, `bits`, `compare` …) may use one another and the leaves, but no op file. An item
//!   `mpc/mod.rs` re-exports (`super::run`) counts as an import of the file it comes from.
//!
//! Every `crate::`, `super::` and `self::` path outside comments and literals is resolved to the
//! module it names (inline `mod x { … }` blocks included). A module added to `actors/src/lib.rs` or
//! a file added to `mpc/` must be given a layer below, or this test fails. Not seen: calls of
//! `Party` methods, which name no module (an op file calling a method defined in a higher op file).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// actors/: (module, layer). A module may import modules of strictly lower layers only.
const ACTOR_LAYERS: &[(&str, i32)] = &[
    ("cancel", -1),
    ("counters", -1),
    ("network", 0),
    ("custody", 0),
    ("keystore", 0),
    ("ledger", 1),
    ("groups", 1),
    ("sessions", 2),
    ("upkeep", 3),
    ("router", 3),
    ("front", 4),
    ("system", 5),
];

/// protocol/src/mpc/: (file, layer). Strictly lower layers only, except that the primitives
/// (layer 1) may use one another.
const MPC_LAYERS: &[(&str, i32)] = &[
    ("bounds", 0),
    ("spec", 0),
    ("prss", 0),
    ("transport", 1),
    ("audit", 1),
    ("prep", 1),
    ("open", 1),
    ("mul", 1),
    ("trunc", 1),
    ("bits", 1),
    ("compare", 1),
    ("tdist", 1),
    ("reshare", 1),
    ("prep_active", 1),
    ("matmul", 1),
    ("verify", 1),
    ("shuffle", 1),
    ("div", 2),
    ("sqrt", 2),
    ("shift", 2),
    ("rescale", 2),
    ("stats", 3),
    ("ratio", 3),
    ("linalg", 4),
    ("linreg", 4),
    ("multivar", 4),
    ("ttest", 4),
    ("histogram", 4),
    ("quantile", 4),
    ("ops", 5),
    ("bench", 6),
    ("tests", 7),
    ("tests_active", 7),
    ("toolbox", 7),
    ("order_stats", 7),
    ("toolbox_props", 7),
    ("decimal", 7),
];
const MPC_PRIMITIVES: i32 = 1;

#[derive(Debug, PartialEq)]
enum Tok {
    Ident(String),
    Colons,
    Open,
    Close,
    Comma,
    Star,
    Other,
}

/// The tokens of a Rust source that matter for paths; comments, strings and chars are dropped.
fn tokens(src: &str) -> Vec<Tok> {
    let c: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch == '/' && c.get(i + 1) == Some(&'/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && c.get(i + 1) == Some(&'*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if ch == '"' {
            i += 1;
            while i < c.len() && c[i] != '"' {
                i += if c[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
        } else if ch == 'r' && matches!(c.get(i + 1), Some('"') | Some('#')) && raw_string_len(&c[i..]).is_some() {
            i += raw_string_len(&c[i..]).unwrap_or(1);
        } else if ch == '\'' {
            // a char literal ('x', '\n', '\u{7f}') or a lifetime ('a)
            if c.get(i + 1) == Some(&'\\') {
                i += 2;
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if c.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                i += 1;
            }
        } else if ch.is_alphabetic() || ch == '_' {
            let s = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident(c[s..i].iter().collect()));
        } else if ch == ':' && c.get(i + 1) == Some(&':') {
            out.push(Tok::Colons);
            i += 2;
        } else {
            out.push(match ch {
                '{' => Tok::Open,
                '}' => Tok::Close,
                ',' => Tok::Comma,
                '*' => Tok::Star,
                _ if ch.is_whitespace() => {
                    i += 1;
                    continue;
                }
                _ => Tok::Other,
            });
            i += 1;
        }
    }
    out
}

/// Length of a raw string literal at the start of `c` (`r"…"`, `r#"…"#`), if it is one.
fn raw_string_len(c: &[char]) -> Option<usize> {
    let hashes = c[1..].iter().take_while(|&&x| x == '#').count();
    if c.get(1 + hashes) != Some(&'"') {
        return None;
    }
    let mut i = 2 + hashes;
    while i < c.len() {
        if c[i] == '"' && c[i + 1..].iter().take(hashes).filter(|&&x| x == '#').count() == hashes {
            return Some(i + 1 + hashes);
        }
        i += 1;
    }
    Some(c.len())
}

/// Walks one path (or `use` tree) from `toks[i]`, relative to `prefix`; pushes every full path.
fn walk(toks: &[Tok], mut i: usize, mut prefix: Vec<String>, out: &mut Vec<Vec<String>>) -> usize {
    loop {
        match toks.get(i) {
            Some(Tok::Ident(s)) => {
                match s.as_str() {
                    "crate" => prefix.clear(),
                    "super" => {
                        prefix.pop();
                    }
                    "self" => {}
                    _ => prefix.push(s.clone()),
                }
                i += 1;
                if toks.get(i) == Some(&Tok::Colons) {
                    i += 1;
                    continue;
                }
                out.push(prefix);
                return i;
            }
            Some(Tok::Star) => {
                prefix.push("*".into());
                out.push(prefix);
                return i + 1;
            }
            Some(Tok::Open) => {
                i += 1;
                while i < toks.len() && toks[i] != Tok::Close {
                    i = walk(toks, i, prefix.clone(), out);
                    // `x as y`, up to the next item
                    let mut depth = 0;
                    while i < toks.len() {
                        match toks[i] {
                            Tok::Open => depth += 1,
                            Tok::Close if depth == 0 => break,
                            Tok::Close => depth -= 1,
                            Tok::Comma if depth == 0 => {
                                i += 1;
                                break;
                            }
                            _ => {}
                        }
                        i += 1;
                    }
                }
                return i + 1;
            }
            _ => {
                out.push(prefix);
                return i;
            }
        }
    }
}

/// Every module path named from crate root in a source whose own module is `module`.
fn paths(src: &str, module: &[String]) -> Vec<Vec<String>> {
    let toks = tokens(src);
    let mut out = Vec::new();
    let mut depth = 0usize;
    // inline modules: (brace depth outside them, name)
    let mut inline: Vec<(usize, String)> = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        match &toks[i] {
            Tok::Ident(m) if m == "mod" => {
                if let (Some(Tok::Ident(name)), Some(Tok::Open)) = (toks.get(i + 1), toks.get(i + 2)) {
                    inline.push((depth, name.clone()));
                    depth += 1;
                    i += 3;
                    continue;
                }
            }
            Tok::Ident(s)
                if ["crate", "super", "self"].contains(&s.as_str()) && toks.get(i + 1) == Some(&Tok::Colons) =>
            {
                let mut here: Vec<String> = module.to_vec();
                here.extend(inline.iter().map(|(_, n)| n.clone()));
                i = walk(&toks, i, here, &mut out);
                continue;
            }
            Tok::Open => depth += 1,
            Tok::Close => {
                depth = depth.saturating_sub(1);
                if inline.last().is_some_and(|(d, _)| *d == depth) {
                    inline.pop();
                }
            }
            _ => {}
        }
        i += 1;
    }
    out
}

fn layer(table: &[(&str, i32)], name: &str) -> Option<i32> {
    table.iter().find(|(n, _)| *n == name).map(|(_, l)| *l)
}

/// Violations in one actors/ file of module `module` (its path from the crate root).
fn check_actor_file(file: &str, module: &[String], src: &str, modules: &[String]) -> Vec<String> {
    let from = &module[0];
    let Some(lf) = layer(ACTOR_LAYERS, from) else {
        return vec![format!("{file}: module `{from}` has no layer in ACTOR_LAYERS")];
    };
    let mut bad = Vec::new();
    let mut reported = std::collections::BTreeSet::new();
    for p in paths(src, module) {
        let Some(to) = p.first() else { continue };
        if to == from || !reported.insert(to.clone()) {
            continue;
        }
        if to == "*" {
            bad.push(format!("{file}: glob import of the crate root"));
        } else if modules.contains(to) {
            match layer(ACTOR_LAYERS, to) {
                Some(lt) if lt < lf => {}
                Some(lt) => bad.push(format!(
                    "{file}: `{}` imports `{}` (layer {lt}) from `{from}` (layer {lf})",
                    p.join("::"),
                    to
                )),
                None => bad.push(format!("{file}: module `{to}` has no layer in ACTOR_LAYERS")),
            }
        }
    }
    bad
}

/// Violations in one mpc/ file `name`; `reexports` maps an item `mpc/mod.rs` re-exports to its file.
fn check_mpc_file(file: &str, name: &str, src: &str, reexports: &BTreeMap<String, String>) -> Vec<String> {
    let Some(lf) = layer(MPC_LAYERS, name) else {
        return vec![format!("{file}: `{name}` has no layer in MPC_LAYERS")];
    };
    let module = ["mpc".to_string(), name.to_string()];
    let mut bad = Vec::new();
    let mut reported = std::collections::BTreeSet::new();
    for p in paths(src, &module) {
        if p.len() < 2 || p[0] != "mpc" {
            continue;
        }
        let to = match layer(MPC_LAYERS, &p[1]) {
            Some(_) => p[1].clone(),
            None => match reexports.get(&p[1]) {
                Some(f) => f.clone(),
                None => continue, // an item of mod.rs itself (Party, MpcError …)
            },
        };
        if to == name || !reported.insert(to.clone()) {
            continue;
        }
        let lt = layer(MPC_LAYERS, &to).unwrap_or(i32::MAX);
        if !(lt < lf || (lt == MPC_PRIMITIVES && lf == MPC_PRIMITIVES)) {
            bad.push(format!("{file}: `{}` imports `{to}` (layer {lt}) from `{name}` (layer {lf})", p.join("::")));
        }
    }
    bad
}

/// Items `mpc/mod.rs` re-exports from its files (`pub use ops::{run, …};`), and the file.
fn mpc_reexports(src: &str) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for stmt in src.split(';') {
        let Some(rest) = stmt.trim().strip_prefix("pub use ") else { continue };
        let mut out = Vec::new();
        walk(&tokens(rest), 0, Vec::new(), &mut out);
        for p in out {
            if let [file, item] = p.as_slice() {
                map.insert(item.clone(), file.clone());
            }
        }
    }
    map
}

fn rs_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let p = e.expect("dir entry").path();
        if p.is_dir() {
            out.extend(rs_files(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// `pub mod x;` / `mod x;` declarations of a file.
fn declared_modules(src: &str) -> Vec<String> {
    let toks = tokens(src);
    toks.windows(2)
        .filter_map(|w| match w {
            [Tok::Ident(m), Tok::Ident(name)] if m == "mod" => Some(name.clone()),
            _ => None,
        })
        .collect()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn actor_modules_import_only_lower_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let modules = declared_modules(&read(&src.join("lib.rs")));
    assert!(modules.contains(&"network".to_string()) && modules.contains(&"router".to_string()), "{modules:?}");
    let mut bad = Vec::new();
    for f in rs_files(&src) {
        let rel: Vec<String> = f
            .strip_prefix(&src)
            .expect("under src")
            .with_extension("")
            .iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect();
        let mut module = rel.clone();
        if module.last().is_some_and(|l| l == "mod") {
            module.pop();
        }
        if module == ["lib"] {
            continue;
        }
        bad.extend(check_actor_file(&format!("actors/src/{}.rs", rel.join("/")), &module, &read(&f), &modules));
    }
    assert!(bad.is_empty(), "layering violations (docs/decisions.md, Layering):\n{}", bad.join("\n"));
}

#[test]
fn mpc_op_files_import_one_way() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../protocol/src/mpc");
    let reexports = mpc_reexports(&read(&dir.join("mod.rs")));
    assert_eq!(reexports.get("run").map(String::as_str), Some("ops"), "{reexports:?}");
    let mut bad = Vec::new();
    let mut seen = 0;
    for f in rs_files(&dir) {
        let name = f.file_stem().expect("file name").to_string_lossy().into_owned();
        if name == "mod" {
            continue;
        }
        seen += 1;
        bad.extend(check_mpc_file(&format!("protocol/src/mpc/{name}.rs"), &name, &read(&f), &reexports));
    }
    assert!(seen >= 10, "only {seen} mpc files found in {}", dir.display());
    assert!(bad.is_empty(), "layering violations (protocol/src/mpc/mod.rs):\n{}", bad.join("\n"));
}

/// The checker itself: each forbidden import below must be caught, each allowed one must not.
#[test]
fn the_checker_catches_upward_imports() {
    let modules: Vec<String> = ACTOR_LAYERS.iter().map(|(n, _)| n.to_string()).collect();
    // (module path, source, violations)
    let actor_cases: &[(&[&str], &str, usize)] = &[
        (&["network"], "use crate::router::Router;", 1),
        (&["network"], "use crate::{network::Proto, custody::Custody, router::{self, Router}};", 2),
        (&["network"], "use super::sessions::Sessions;", 1),
        (&["network", "driver"], "fn f(x: super::super::upkeep::CustodySync) {}", 1),
        (&["network"], "fn f() { let r = crate::front::Front::new(); }", 1),
        (&["network"], "mod tests { use super::super::router::Router; }", 1),
        (&["custody"], "use crate::network::Proto;", 1),
        (&["custody"], "use crate::keystore as k;", 1),
        (&["cancel"], "use crate::network::Proto;", 1),
        (&["router"], "use crate::upkeep::repair;", 1),
        (&["ledger"], "use crate::*;", 1),
        // allowed: downward, own module, utilities, comments and literals
        (&["router"], "use crate::{custody::Custody, ledger, network::Proto, sessions::Inbound};", 0),
        (&["front"], "use crate::cancel::Cancel; fn f() { crate::now_ms(); }", 0),
        (&["network"], "use super::guard::Offence; use crate::network::Proto; mod t { use super::*; }", 0),
        (&["network"], "// crate::router::Router\n/* crate::front */ fn f() { g(\"crate::router::X {\"); }", 0),
        (&["network"], "fn f<'a>(c: char) -> bool { c == '{' } use crate::network::Proto;", 0),
    ];
    let mut wrong = Vec::new();
    for (module, src, want) in actor_cases {
        let module: Vec<String> = module.iter().map(|x| x.to_string()).collect();
        let got = check_actor_file("t.rs", &module, src, &modules);
        if got.len() != *want {
            wrong.push(format!("{module:?} {src:?}: want {want} violations, got {got:?}"));
        }
    }
    let re = mpc_reexports("pub use ops::{reveal, run}; pub use spec::{Op, OutputShare};");
    let mpc_cases: &[(&str, &str, usize)] = &[
        ("stats", "use super::ops::Op;", 1),
        ("stats", "fn f() { super::run(p, o, i); }", 1),
        ("div", "fn f() { super::stats::clog2(3); }", 1),
        ("sqrt", "use super::div::NEWTON_F;", 1),
        ("linalg", "use crate::mpc::linreg::finish;", 1),
        ("bits", "use super::{prep::Needs, stats::cert_plan};", 1),
        ("bounds", "use super::spec::Op;", 1),
        ("linreg", "use super::{bounds::clog2, spec::OutputShare, stats::cert_plan, div, MpcError};", 0),
        ("stats", "use super::{Op, MpcError, Party}; use super::sqrt::s_range;", 0),
        ("compare", "use super::prep::PairSpec; fn f() { super::bits::compose(x); }", 0),
    ];
    for (name, src, want) in mpc_cases {
        let got = check_mpc_file("t.rs", name, src, &re);
        if got.len() != *want {
            wrong.push(format!("{name} {src:?}: want {want} violations, got {got:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
