//! Which data row each request gets. Pure and seeded: `sequential` walks a kind's rows in
//! file order (request N of the kind gets row N mod rows), `random` draws from a stream
//! seeded by the scenario's seed and the kind's index, apart from the schedule's own
//! stream, so adding a data file never changes arrival times or the request mix.

use super::rng::Rng;
use crate::scenario::{DataPick, RequestKind};

/// The row picker of one request kind.
#[derive(Debug, Clone)]
pub enum RowPicker {
    /// No data file: every request gets row 0, which nothing reads.
    None,
    /// The next row in file order, and the row count.
    Sequential { next: usize, rows: usize },
    /// Uniform draws over `rows`.
    Random { rng: Rng, rows: usize },
}

impl RowPicker {
    /// One picker per kind, indexed as the plan's requests.
    pub fn for_kinds(kinds: &[RequestKind], seed: u64) -> Vec<RowPicker> {
        kinds
            .iter()
            .enumerate()
            .map(|(i, k)| match &k.data {
                None => RowPicker::None,
                Some(d) if d.rows == 0 => RowPicker::None,
                Some(d) => match d.pick {
                    DataPick::Sequential => RowPicker::Sequential {
                        next: 0,
                        rows: d.rows,
                    },
                    DataPick::Random => RowPicker::Random {
                        // A constant apart from the schedule's seed use, and the kind's
                        // index, so kinds sharing a file draw different rows.
                        rng: Rng::new(
                            seed ^ 0xDA7A_0000_0000_0000 ^ (i as u64 + 1).wrapping_mul(0x9E37),
                        ),
                        rows: d.rows,
                    },
                },
            })
            .collect()
    }

    /// The row for the next request of this kind.
    pub fn pick(&mut self) -> usize {
        match self {
            RowPicker::None => 0,
            RowPicker::Sequential { next, rows } => {
                let row = *next;
                *next = (*next + 1) % *rows;
                row
            }
            // Modulo bias is below rows / 2^64: nothing a load test can see.
            RowPicker::Random { rng, rows } => (rng.next_u64() % *rows as u64) as usize,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picker(pick: DataPick, rows: usize, seed: u64) -> RowPicker {
        let kind = RequestKind {
            name: "k".into(),
            method: "GET".into(),
            path: "/".into(),
            weight: 1,
            headers: Default::default(),
            body: None,
            data: Some(crate::scenario::DataSource {
                file: "d.csv".into(),
                format: "csv".into(),
                pick,
                columns: vec!["a".into()],
                rows,
                sha256: String::new(),
                table: Default::default(),
            }),
            replay_match: None,
        };
        RowPicker::for_kinds(&[kind], seed).remove(0)
    }

    #[test]
    fn sequential_wraps_in_file_order() {
        let mut p = picker(DataPick::Sequential, 3, 1);
        let rows: Vec<usize> = (0..7).map(|_| p.pick()).collect();
        assert_eq!(rows, [0, 1, 2, 0, 1, 2, 0]);
    }

    #[test]
    fn random_reproduces_from_the_seed_and_covers_the_rows() {
        let draw = |seed| {
            let mut p = picker(DataPick::Random, 5, seed);
            (0..200).map(|_| p.pick()).collect::<Vec<_>>()
        };
        let a = draw(7);
        assert_eq!(a, draw(7));
        assert_ne!(a, draw(8));
        assert!(a.iter().all(|&r| r < 5));
        for r in 0..5 {
            assert!(a.contains(&r), "row {r} never drawn");
        }
    }

    #[test]
    fn no_data_is_row_zero() {
        let mut p = RowPicker::None;
        assert_eq!(p.pick(), 0);
    }
}
