//! ZooKeeper's typed constants (zookeeper-protocol.md §2, §3, §5–§8): opcodes, error codes,
//! watch event types and states, create modes, permission bits and special xids.

mod create_mode;
mod error_code;
mod opcode;
mod perms;
mod watch;
pub mod xid;

pub use create_mode::CreateMode;
pub use error_code::ErrorCode;
pub use opcode::OpCode;
pub use perms::Perms;
pub use watch::{AddWatchMode, EventType, KeeperState, WatcherType};

/// Declares an `i32`-valued enum with a checked conversion from the wire value.
macro_rules! int_enum {
    ($(#[$m:meta])* pub enum $name:ident ($what:literal) { $( $(#[$vm:meta])* $variant:ident = $value:expr ),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(i32)]
        pub enum $name { $( $(#[$vm])* $variant = $value ),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The value for a wire integer, if it names one.
            pub const fn from_i32(v: i32) -> Option<Self> {
                match v {
                    $( $value => Some($name::$variant), )+
                    _ => None,
                }
            }

            /// The wire integer.
            pub const fn as_i32(self) -> i32 {
                self as i32
            }
        }

        impl TryFrom<i32> for $name {
            type Error = $crate::DecodeError;
            fn try_from(v: i32) -> Result<Self, $crate::DecodeError> {
                Self::from_i32(v).ok_or($crate::DecodeError::UnknownDiscriminant {
                    what: $what,
                    value: i64::from(v),
                })
            }
        }

        impl From<$name> for i32 {
            fn from(v: $name) -> i32 {
                v as i32
            }
        }
    };
}
pub(crate) use int_enum;
