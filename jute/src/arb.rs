//! Test-only: proptest strategies for every Jute type, so each record gets a round-trip property.

use bytes::Bytes;
use bytestring::ByteString;
use proptest::prelude::*;
use proptest::strategy::BoxedStrategy;

/// A type with a proptest strategy covering its whole encoding space (nulls included).
pub trait Arb: Sized + std::fmt::Debug {
    fn arb() -> BoxedStrategy<Self>;
}

impl Arb for i32 {
    fn arb() -> BoxedStrategy<Self> {
        any::<i32>().boxed()
    }
}

impl Arb for i64 {
    fn arb() -> BoxedStrategy<Self> {
        any::<i64>().boxed()
    }
}

impl Arb for bool {
    fn arb() -> BoxedStrategy<Self> {
        any::<bool>().boxed()
    }
}

impl Arb for Bytes {
    fn arb() -> BoxedStrategy<Self> {
        proptest::collection::vec(any::<u8>(), 0..48)
            .prop_map(Bytes::from)
            .boxed()
    }
}

impl Arb for ByteString {
    fn arb() -> BoxedStrategy<Self> {
        "\\PC{0,12}".prop_map(ByteString::from).boxed()
    }
}

impl<T: Arb + 'static> Arb for Option<T> {
    fn arb() -> BoxedStrategy<Self> {
        proptest::option::of(T::arb()).boxed()
    }
}

impl<T: Arb + 'static> Arb for Vec<T> {
    fn arb() -> BoxedStrategy<Self> {
        proptest::collection::vec(T::arb(), 0..4).boxed()
    }
}
