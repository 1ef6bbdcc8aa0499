//! A series thinned to a bounded length as it grows: every point is kept up to `2 × cap`,
//! then each pair of neighbours is merged into the one a caller-given key ranks higher (the
//! deeper queue, the busier second) and the stride doubles. Memory stays below `2 × cap`
//! points however long a run goes, the points stay evenly spread over the whole run, and the
//! point with the highest key always survives, so a spike is never thinned away.

/// A bounded, evenly thinned series.
#[derive(Debug, Clone)]
pub struct Thinned<T> {
    cap: usize,
    stride: u64,
    /// Points offered since the last kept one.
    pending: Option<T>,
    offered_in_stride: u64,
    kept: Vec<T>,
    key: fn(&T) -> u64,
}

impl<T> Thinned<T> {
    /// Keeps between `cap` and `2 × cap` points once more than `2 × cap` were offered.
    pub fn new(cap: usize, key: fn(&T) -> u64) -> Self {
        Thinned {
            cap: cap.max(1),
            stride: 1,
            pending: None,
            offered_in_stride: 0,
            kept: Vec::new(),
            key,
        }
    }

    /// Offers the next point (in time order).
    pub fn push(&mut self, x: T) {
        let key = self.key;
        self.pending = match self.pending.take() {
            Some(p) if key(&p) >= key(&x) => Some(p),
            _ => Some(x),
        };
        self.offered_in_stride += 1;
        if self.offered_in_stride < self.stride {
            return;
        }
        self.offered_in_stride = 0;
        self.kept.extend(self.pending.take());
        if self.kept.len() >= 2 * self.cap {
            let old = std::mem::take(&mut self.kept);
            let mut it = old.into_iter();
            while let Some(a) = it.next() {
                match it.next() {
                    Some(b) if key(&b) > key(&a) => self.kept.push(b),
                    _ => self.kept.push(a),
                }
            }
            self.stride *= 2;
        }
    }

    /// Every point of the series kept so far, the one still being merged last.
    pub fn into_vec(mut self) -> Vec<T> {
        self.kept.extend(self.pending.take());
        self.kept
    }

    /// Points kept so far.
    pub fn len(&self) -> usize {
        self.kept.len() + usize::from(self.pending.is_some())
    }

    /// True before the first point.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_spread_and_keeps_the_spike() {
        let mut t = Thinned::new(100, |x: &u64| if *x == 77_777 { 1 } else { 0 });
        for x in 0..1_000_000u64 {
            t.push(x);
        }
        assert!(t.len() <= 200 && t.len() >= 100, "{}", t.len());
        let v = t.into_vec();
        assert!(v.contains(&77_777));
        assert!(v.windows(2).all(|w| w[0] < w[1]), "time order");
        assert!(*v.last().unwrap() > 980_000, "reaches the end: {v:?}");
        assert!(v[0] < 10_000);
    }

    #[test]
    fn short_series_kept_whole() {
        let mut t = Thinned::new(100, |_: &u32| 0);
        for x in 0..150 {
            t.push(x);
        }
        assert_eq!(t.into_vec(), (0..150).collect::<Vec<_>>());
    }
}
