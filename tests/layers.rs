//! Imports flow one way, bottom up. Parses every file of `src/` (with `syn`, so comments and
//! strings never count), resolves each `crate::`, `super::` and `self::` path to the module it
//! names, and fails on:
//! - a top-level module that imports one in a higher layer (or later in its own layer) of
//!   [`LAYERS`], or a top-level module missing from it;
//! - a cycle between the sub-modules of any module (siblings importing each other, directly
//!   or round a loop).
//!
//! Test code (`#[cfg(test)]` items and `*_tests.rs` files) may reach anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// The crate's layers, lowest first. A module may import the modules of lower layers, and
/// those listed before it in its own layer.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "leaves: clocks, CPU affinity, units, /proc, the metric catalogue, TLS client settings, thinned series",
        &["clock", "affinity", "units", "procfs", "metric", "tls", "thin"],
    ),
    ("the scenario: TOML -> Plan", &["scenario"]),
    (
        "the stack drivers and the recorder (read Plan types only)",
        &["stack", "record"],
    ),
    ("the load and the probes", &["load", "probe"]),
    (
        "analysis: pure functions returning their own value types",
        &[
            "attribution",
            "incident",
            "events",
            "bottleneck",
            "cpu_per_request",
            "model",
            "fleet_view",
        ],
    ),
    ("results: composes run.json", &["results"]),
    (
        "readers of a RunResult",
        &["thresholds", "report", "compare"],
    ),
    (
        "the run: the only writer of run.json",
        &["progress", "runner", "tune"],
    ),
    ("the commands", &["cli", "app"]),
];

/// A module path inside the crate: `["report", "export", "csv"]`.
type ModPath = Vec<String>;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every source file with its module path. `#[path]` test files are left out.
fn files() -> Vec<(PathBuf, ModPath)> {
    fn walk(dir: &Path, prefix: &ModPath, out: &mut Vec<(PathBuf, ModPath)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
        entries.sort_by_key(|e| e.path());
        for e in entries {
            let path = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                let mut p = prefix.clone();
                p.push(name);
                walk(&path, &p, out);
            } else if let Some(stem) = name.strip_suffix(".rs") {
                if stem.ends_with("_tests") || stem == "tests" {
                    continue;
                }
                let mut p = prefix.clone();
                if !matches!(stem, "mod" | "lib" | "main") {
                    p.push(stem.to_string());
                }
                out.push((path, p));
            }
        }
    }
    let mut out = Vec::new();
    walk(&src(), &Vec::new(), &mut out);
    out
}

/// Collects the paths a file names, outside test code.
struct Refs {
    /// The file's own module path.
    here: ModPath,
    /// Resolved paths (may end in item names).
    found: Vec<ModPath>,
}

impl Refs {
    /// Turns `crate::a::b`, `super::a`, `self::a` into a path from the crate root.
    fn resolve(&self, segments: &[String]) -> Option<ModPath> {
        let mut base: ModPath = match segments.first()?.as_str() {
            "crate" => Vec::new(),
            "self" => self.here.clone(),
            "super" => self.here.clone(),
            _ => return None,
        };
        let mut rest = segments;
        while let Some(first) = rest.first() {
            match first.as_str() {
                "crate" | "self" => {}
                "super" => {
                    base.pop();
                }
                _ => break,
            }
            rest = &rest[1..];
        }
        base.extend(rest.iter().cloned());
        Some(base)
    }

    fn push(&mut self, segments: &[String]) {
        if let Some(p) = self.resolve(segments) {
            self.found.push(p);
        }
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                prefix.push(n.ident.to_string());
                self.push(prefix);
                prefix.pop();
            }
            syn::UseTree::Rename(r) => {
                prefix.push(r.ident.to_string());
                self.push(prefix);
                prefix.pop();
            }
            syn::UseTree::Glob(_) => self.push(prefix),
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    self.use_tree(prefix, t);
                }
            }
        }
    }
}

fn is_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.parse_args::<syn::Meta>()
                .is_ok_and(|m| m.path().is_ident("test"))
    })
}

impl<'ast> Visit<'ast> for Refs {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        let attrs: &[syn::Attribute] = match item {
            syn::Item::Mod(m) => &m.attrs,
            syn::Item::Fn(f) => &f.attrs,
            syn::Item::Impl(i) => &i.attrs,
            syn::Item::Use(u) => &u.attrs,
            syn::Item::Struct(s) => &s.attrs,
            syn::Item::Const(c) => &c.attrs,
            _ => &[],
        };
        if is_test(attrs) {
            return;
        }
        if let syn::Item::Use(u) = item {
            self.use_tree(&mut Vec::new(), &u.tree);
            return;
        }
        syn::visit::visit_item(self, item);
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        self.push(&segments);
        syn::visit::visit_path(self, path);
    }
}

/// For each file: its module path and the module paths it imports (truncated to modules).
fn graph() -> Vec<(PathBuf, ModPath, BTreeSet<ModPath>)> {
    let files = files();
    let modules: BTreeSet<ModPath> = files.iter().map(|(_, m)| m.clone()).collect();
    let mut out = Vec::new();
    for (path, here) in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let ast = syn::parse_file(&text)
            .unwrap_or_else(|e| panic!("{}: does not parse: {e}", path.display()));
        let mut refs = Refs {
            here: here.clone(),
            found: Vec::new(),
        };
        refs.visit_file(&ast);
        let mut targets = BTreeSet::new();
        for mut p in refs.found {
            while !p.is_empty() && !modules.contains(&p) {
                p.pop();
            }
            if !p.is_empty() && p != here {
                targets.insert(p);
            }
        }
        out.push((path, here, targets));
    }
    out
}

fn rank(module: &str) -> Option<(usize, usize)> {
    LAYERS
        .iter()
        .enumerate()
        .find_map(|(l, (_, mods))| mods.iter().position(|m| *m == module).map(|p| (l, p)))
}

#[test]
fn top_level_modules_import_only_downwards() {
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for (path, here, targets) in graph() {
        let Some(top) = here.first() else { continue };
        seen.insert(top.clone());
        let Some(from) = rank(top) else {
            problems.push(format!(
                "src/{top}: not in a layer: add it to LAYERS in tests/layers.rs"
            ));
            continue;
        };
        for t in targets {
            let to_mod = &t[0];
            if to_mod == top {
                continue;
            }
            let Some(to) = rank(to_mod) else { continue };
            if to >= from {
                problems.push(format!(
                    "{}: `{top}` ({}) imports `{}` ({}): move what it needs down a layer, or \
                     hand it in from above",
                    path.strip_prefix(src()).unwrap().display(),
                    LAYERS[from.0].0,
                    t.join("::"),
                    LAYERS[to.0].0,
                ));
            }
        }
    }
    problems.sort();
    problems.dedup();
    assert!(
        problems.is_empty(),
        "upward imports:\n{}",
        problems.join("\n")
    );
    let listed: BTreeSet<String> = LAYERS
        .iter()
        .flat_map(|(_, m)| m.iter().map(|s| s.to_string()))
        .collect();
    let stale: Vec<_> = listed.difference(&seen).collect();
    assert!(
        stale.is_empty(),
        "LAYERS names modules src/ lacks: {stale:?}"
    );
}

#[test]
fn no_cycles_between_sibling_modules() {
    // Edges between the children of each module: `a::b::x` importing `a::b::y::z` is an
    // edge x -> y under `a::b`. A parent using its own children is not an edge.
    let mut edges: BTreeMap<ModPath, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for (_, here, targets) in graph() {
        for t in targets {
            let common = here.iter().zip(&t).take_while(|(a, b)| a == b).count();
            if here.len() > common && t.len() > common && common > 0 {
                edges
                    .entry(here[..common].to_vec())
                    .or_default()
                    .entry(here[common].clone())
                    .or_default()
                    .insert(t[common].clone());
            }
        }
    }
    let mut cycles = Vec::new();
    for (parent, g) in &edges {
        // Depth-first search for a back edge.
        fn dfs(
            n: &str,
            g: &BTreeMap<String, BTreeSet<String>>,
            state: &mut BTreeMap<String, u8>,
            stack: &mut Vec<String>,
        ) -> Option<Vec<String>> {
            state.insert(n.to_string(), 1);
            stack.push(n.to_string());
            for m in g.get(n).into_iter().flatten() {
                match state.get(m.as_str()).copied().unwrap_or(0) {
                    1 => {
                        let at = stack.iter().position(|s| s == m).unwrap();
                        let mut c = stack[at..].to_vec();
                        c.push(m.clone());
                        return Some(c);
                    }
                    0 => {
                        if let Some(c) = dfs(m, g, state, stack) {
                            return Some(c);
                        }
                    }
                    _ => {}
                }
            }
            stack.pop();
            state.insert(n.to_string(), 2);
            None
        }
        let mut state = BTreeMap::new();
        for n in g.keys() {
            if state.get(n.as_str()).copied().unwrap_or(0) == 0 {
                if let Some(c) = dfs(n, g, &mut state, &mut Vec::new()) {
                    cycles.push(format!("{}: {}", parent.join("::"), c.join(" -> ")));
                    // The search stopped mid-way: its nodes are still marked open. One
                    // cycle per module is enough to name; the next search starts clean.
                    break;
                }
            }
        }
    }
    assert!(
        cycles.is_empty(),
        "import cycles between sibling modules:\n{}",
        cycles.join("\n")
    );
}

#[test]
fn the_checker_sees_imports() {
    // Guards the test itself: a few imports known to exist must be found.
    let g = graph();
    let imports = |from: &[&str], to: &[&str]| {
        g.iter().any(|(_, h, t)| {
            h.iter().map(String::as_str).eq(from.iter().copied())
                && t.iter()
                    .any(|p| p.iter().map(String::as_str).eq(to.iter().copied()))
        })
    };
    assert!(imports(&["runner"], &["results"]));
    assert!(imports(&["report", "table"], &["units"]));
    assert!(imports(&["results", "metrics"], &["metric"]));
}
