//! A tiny column-aligned table printer for `portcullis ctl`.

/// Rows of text under a header; columns are as wide as their widest cell.
#[derive(Debug, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new<S: Into<String>>(header: impl IntoIterator<Item = S>) -> Self {
        Self { header: header.into_iter().map(Into::into).collect(), rows: Vec::new() }
    }

    /// Adds a row; missing cells print as `-`, extra cells are dropped.
    pub fn row(&mut self, cells: impl IntoIterator<Item = String>) {
        let mut cells: Vec<String> = cells.into_iter().take(self.header.len()).collect();
        cells.resize(self.header.len(), "-".into());
        self.rows.push(cells);
    }

    /// The header, the rows (or `(none)`), each line ending in a newline; two
    /// spaces between columns and no trailing blanks.
    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.header.iter().map(|h| width(h)).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(width(cell));
            }
        }
        let mut out = String::new();
        for line in std::iter::once(&self.header).chain(&self.rows) {
            let mut text = String::new();
            for (i, (cell, w)) in line.iter().zip(&widths).enumerate() {
                if i > 0 {
                    text.push_str("  ");
                }
                text.push_str(cell);
                text.extend(std::iter::repeat_n(' ', w - width(cell)));
            }
            out.push_str(text.trim_end());
            out.push('\n');
        }
        if self.rows.is_empty() {
            out.push_str("(none)\n");
        }
        out
    }
}

fn width(text: &str) -> usize {
    text.chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_without_trailing_blanks() {
        let mut table = Table::new(["QUEUE", "DEPTH", "AGE"]);
        table.row(["to-inner".to_string(), "3".into(), "2m5s".into()]);
        table.row(["x".to_string(), "12345".into(), "-".into()]);
        assert_eq!(table.render(), "QUEUE     DEPTH  AGE\nto-inner  3      2m5s\nx         12345  -\n");
    }

    #[test]
    fn short_rows_are_padded_and_long_rows_cut() {
        let mut table = Table::new(["A", "B"]);
        table.row(["1".to_string()]);
        table.row(["1".to_string(), "2".into(), "3".into()]);
        assert_eq!(table.render(), "A  B\n1  -\n1  2\n");
    }

    #[test]
    fn an_empty_table_says_none() {
        assert_eq!(Table::new(["NAME"]).render(), "NAME\n(none)\n");
    }

    #[test]
    fn widths_count_characters_not_bytes() {
        let mut table = Table::new(["N", "X"]);
        table.row(["äöü".to_string(), "1".into()]);
        assert_eq!(table.render(), "N    X\näöü  1\n");
    }
}
