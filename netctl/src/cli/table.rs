//! A tiny aligned-text table for terminal output.

/// Rows under a header, printed with columns padded to their widest cell.
#[derive(Debug, Clone, Default)]
pub struct Table {
    headers: Vec<String>,
    right: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers; a header starting with `>` is right-aligned
    /// (numbers), the `>` is not printed.
    pub fn new(headers: &[&str]) -> Self {
        Self {
            headers: headers.iter().map(|h| h.trim_start_matches('>').to_string()).collect(),
            right: headers.iter().map(|h| h.starts_with('>')).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; missing cells are blank, extra cells are dropped.
    pub fn row(&mut self, cells: Vec<String>) {
        let mut cells = cells;
        cells.resize(self.headers.len(), String::new());
        self.rows.push(cells);
    }

    /// The table as text, one line per row, two spaces between columns, no trailing blanks.
    pub fn render(&self) -> String {
        let width = |c: &str| c.chars().count();
        let widths: Vec<usize> = (0..self.headers.len())
            .map(|i| self.rows.iter().map(|r| width(&r[i])).chain([width(&self.headers[i])]).max().unwrap_or(0))
            .collect();
        let mut out = String::new();
        for cells in std::iter::once(&self.headers).chain(&self.rows) {
            let mut line = String::new();
            for (i, cell) in cells.iter().enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                let pad = " ".repeat(widths[i] - width(cell));
                if self.right[i] {
                    line.push_str(&pad);
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    line.push_str(&pad);
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::Table;

    #[test]
    fn pads_to_the_widest_cell_and_right_aligns_numbers() {
        let mut t = Table::new(&["NAME", ">BYTES", "NOTE"]);
        t.row(vec!["a".into(), "1".into(), "x".into()]);
        t.row(vec!["longer".into(), "12345678".into(), String::new()]);
        assert_eq!(t.render(), "NAME       BYTES  NOTE\na              1  x\nlonger  12345678\n");
    }

    #[test]
    fn counts_characters_not_bytes_and_fills_short_rows() {
        let mut t = Table::new(&["A", "B"]);
        t.row(vec!["ü".into()]);
        t.row(vec!["xy".into(), "z".into(), "dropped".into()]);
        assert_eq!(t.render(), "A   B\nü\nxy  z\n");
    }

    #[test]
    fn a_table_without_rows_is_its_header() {
        assert_eq!(Table::new(&["ID", ">N"]).render(), "ID  N\n");
    }
}
