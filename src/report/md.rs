//! Markdown building blocks shared by the exports, the tune section and `compare`: a leaf
//! of `report`, so that the sections the Markdown export gathers can use them without
//! importing the export back.

/// A Markdown table; columns from `right_from` on are right-aligned (numbers).
pub fn md_table(headers: &[&str], right_from: usize, rows: &[Vec<String>]) -> String {
    let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
    let mut out = format!(
        "| {} |\n|",
        headers
            .iter()
            .map(|h| cell(h))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    for i in 0..headers.len() {
        out.push_str(if i >= right_from { " ---: |" } else { " --- |" });
    }
    out.push('\n');
    for r in rows {
        out.push_str(&format!(
            "| {} |\n",
            r.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::md_table;

    #[test]
    fn table_escapes_and_aligns() {
        let t = md_table(&["a", "n"], 1, &[vec!["x|y".into(), "3".into()]]);
        assert_eq!(t, "| a | n |\n| --- | ---: |\n| x\\|y | 3 |\n");
    }
}
