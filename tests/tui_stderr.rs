//! The stderr capture redirects fd 2 for real: bytes written to the file descriptor (as
//! alsa-lib does) arrive as messages, and fd 2 is back to its old target after the drop.

use std::sync::mpsc::channel;
use std::time::Duration;

use weft::tui::stderr_capture::StderrCapture;
use weft::tui::{AppEvent, Level};

fn write_fd2(bytes: &[u8]) {
    // SAFETY: writing a valid buffer to fd 2.
    let n = unsafe { libc::write(2, bytes.as_ptr().cast(), bytes.len()) };
    assert_eq!(n, bytes.len() as isize);
}

#[test]
fn fd2_writes_become_messages_until_dropped() {
    // SAFETY: fstat on fd 2 into a zeroed struct.
    let ino = || unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        assert_eq!(libc::fstat(2, &mut st), 0);
        (st.st_dev, st.st_ino)
    };
    let before = ino();
    let (tx, rx) = channel();
    let capture = StderrCapture::start(tx.clone()).expect("capture starts");
    assert!(
        StderrCapture::start(tx).is_err(),
        "a second capture is refused"
    );
    assert_ne!(ino(), before, "fd 2 points at the pipe");

    write_fd2(b"ALSA lib pcm.c:2721:(snd_pcm_open_noupdate) Unknown PCM default\n");
    match rx.recv_timeout(Duration::from_secs(5)).expect("a message") {
        AppEvent::Message(Level::Warn, text) => {
            assert_eq!(
                text,
                "ALSA lib pcm.c:2721:(snd_pcm_open_noupdate) Unknown PCM default"
            )
        }
        other => panic!("unexpected {other:?}"),
    }

    drop(capture);
    assert_eq!(ino(), before, "fd 2 is restored");
}
