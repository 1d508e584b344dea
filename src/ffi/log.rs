//! `lv_set_log_callback`: library logs to a host function.

use std::ffi::{c_char, c_int, c_void, CString};
use std::sync::Mutex;

use super::page::{lv_drop_fn, UserData};
use super::{boundary, LV_ERR_PANIC, LV_OK};
use crate::logging::{self, Record};

/// `log(level, target, message, user_data)`: one log record. `level` is 1 error,
/// 2 warn, 3 info, 4 debug, 5 trace; `target` names the library module. Both strings
/// live until the function returns. Called on a library thread dedicated to logging,
/// one record at a time, never on a thread that serves sockets.
pub type lv_log_fn = Option<
    unsafe extern "C" fn(level: c_int, target: *const c_char, message: *const c_char, user_data: *mut c_void),
>;

/// Sends the library's logs (filtered by `MIZULIVE_LOG`, default `info`) to `log`
/// instead of stderr; NULL restores stderr (`user_data` and `drop` are then unused). Process-wide, thread-safe. The library
/// owns `user_data` from this call on and calls `drop` once, after the last record
/// was delivered to this `log` (when it is replaced or removed).
#[no_mangle]
pub unsafe extern "C" fn lv_set_log_callback(
    log: lv_log_fn,
    user_data: *mut c_void,
    drop: lv_drop_fn,
) -> c_int {
    boundary(LV_ERR_PANIC, || {
        let Some(log) = log else {
            drop_previous(logging::set_sink(None));
            return LV_OK;
        };
        let user = UserData { ptr: user_data, drop: Mutex::new(drop) };
        let (tx, rx) = crossbeam_channel::bounded::<Record>(4096);
        let spawned = std::thread::Builder::new().name("mizulive-log".into()).spawn(move || {
            let user = user;
            for record in rx {
                deliver(log, &user, record.level as c_int, &record.target, &record.message);
                let dropped = logging::take_dropped();
                if dropped > 0 {
                    let msg = format!("{dropped} log records dropped: the log callback is too slow");
                    deliver(log, &user, 2, "mizulive::logging", &msg);
                }
            }
        });
        match spawned {
            Ok(_) => {
                drop_previous(logging::set_sink(Some(tx)));
                LV_OK
            }
            Err(e) => super::fail(crate::Error::Io(e)),
        }
    })
}

type LogFn = unsafe extern "C" fn(c_int, *const c_char, *const c_char, *mut c_void);

fn deliver(log: LogFn, user: &UserData, level: c_int, target: &str, message: &str) {
    let target = CString::new(target.replace('\0', " ")).unwrap_or_default();
    let message = CString::new(message.replace('\0', " ")).unwrap_or_default();
    // SAFETY: the host gave us this function and user_data for this purpose.
    unsafe { log(level, target.as_ptr(), message.as_ptr(), user.ptr) };
}

fn drop_previous(previous: Option<crossbeam_channel::Sender<Record>>) {
    // Dropping the sender ends the old thread once it has drained its queue; the
    // thread then drops its UserData, calling the old drop function.
    drop(previous);
}
