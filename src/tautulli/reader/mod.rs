//! The one history reader, for the index and the analytics sync: day windows planned from
//! per-day counts ([`windowed`]), or `start` paging of the whole history ([`paged`]) when
//! asked for or when the server's day filters do not work.

pub mod ahead;
pub mod merge;
pub mod paged;
pub mod plan;
pub mod source;
pub mod windowed;

pub use ahead::{day_counts, ClientPages};
use merge::Part;
pub use paged::{HistoryReader, PageRows, ReadOutcome, Since, MAX_CATCH_UP_PASSES};
pub use source::{PageSource, PagedRow, Query, RowsPage, WindowSource};
pub use windowed::{WindowOptions, WindowedReader};

use crate::config::ReadMode;

/// A read of the history, windowed or paged.
pub enum Reader<S, P: RowsPage> {
    Windowed(Box<WindowedReader<S, P>>),
    Paged(Box<HistoryReader<S, P>>),
}

impl<S, P> Reader<S, P>
where
    S: WindowSource<P> + PageSource<P>,
    P: RowsPage,
    P::Row: Part,
{
    /// A read in `mode`; `per_page` sizes paged reads, `opts` windowed ones.
    pub fn new(source: S, mode: ReadMode, opts: WindowOptions, per_page: u32) -> Self {
        match mode {
            ReadMode::Windowed => {
                Self::Windowed(Box::new(WindowedReader::new(source, opts, per_page)))
            }
            ReadMode::Paged => Self::Paged(Box::new(HistoryReader::new(
                source,
                per_page,
                opts.max_pages.min(u64::from(u32::MAX)) as u32,
            ))),
        }
    }

    /// Makes this an incremental read from a checkpoint.
    pub fn since(self, since: Since) -> Self {
        match self {
            Self::Windowed(r) => Self::Windowed(Box::new(r.since(since))),
            Self::Paged(r) => Self::Paged(Box::new(r.since(since))),
        }
    }

    pub fn next_page(&mut self) -> crate::error::Result<Option<PageRows<P::Row>>> {
        match self {
            Self::Windowed(r) => r.next_page(),
            Self::Paged(r) => r.next_page(),
        }
    }

    pub fn is_incremental(&self) -> bool {
        match self {
            Self::Windowed(r) => r.is_incremental(),
            Self::Paged(r) => r.is_incremental(),
        }
    }

    pub fn outcome(&self) -> ReadOutcome {
        match self {
            Self::Windowed(r) => r.outcome(),
            Self::Paged(r) => r.outcome(),
        }
    }
}
