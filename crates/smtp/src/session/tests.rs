//! Transcripts against the bare state machine: a line in, the reply codes out, with a
//! scripted gateway answering the steps that need one.

use std::sync::{Arc, OnceLock};

use base64::Engine as _;
use envelope::{EnvelopeId, Protocol, Sha256};
use partner::{FsError, Login, Peer, Receipt, RecipientError};

use super::*;

fn peer() -> Peer {
    Peer { remote: "192.0.2.10:40000".parse().expect("address"), protocol: Protocol::Smtp }
}

/// A rustls server config with a self-signed certificate (made once).
pub(crate) fn tls_config() -> Arc<rustls::ServerConfig> {
    static CONFIG: OnceLock<Arc<rustls::ServerConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("certificate");
            let key = rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
            let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
            let config = rustls::ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("versions")
                .with_no_client_auth()
                .with_single_cert(vec![certified.cert.der().clone()], key)
                .expect("server config");
            Arc::new(config)
        })
        .clone()
}

fn config(tweak: impl FnOnce(&mut SmtpConfig)) -> SmtpConfig {
    let mut config = SmtpConfig { hostname: "mx.test".into(), max_recipients: 3, ..SmtpConfig::default() };
    tweak(&mut config);
    config
}

/// The scripted gateway: `*@a.test` is channel `a`, `*@b.test` channel `b`,
/// `secure@a.test` needs AUTH, `down@a.test` is unavailable; `alice`/`pw` logs in.
fn directory(address: &str, login: Option<&Login>) -> Result<String, RecipientError> {
    match address {
        "secure@a.test" if login.is_none() => Err(RecipientError::AuthRequired),
        "down@a.test" => Err(RecipientError::Unavailable("spool".into())),
        _ if address.ends_with("@a.test") => Ok("a".into()),
        _ if address.ends_with("@b.test") => Ok("b".into()),
        _ => Err(RecipientError::Unknown),
    }
}

struct Test {
    session: Session,
    /// Envelopes of BeginMessage steps.
    begun: Vec<MailEnvelope>,
    /// What begin_message answers.
    begin: Result<(), FsError>,
    last: Step,
}

impl Test {
    fn new(config: SmtpConfig) -> Test {
        let mut test = Test {
            session: Session::new(Arc::new(config), peer()),
            begun: Vec::new(),
            begin: Ok(()),
            last: Step::Continue,
        };
        assert_eq!(test.output(), "220 mx.test ESMTP portcullis\r\n");
        test
    }

    fn ready(config: SmtpConfig) -> Test {
        let mut test = Test::new(config);
        test.expect("EHLO client.test", &[250]);
        test
    }

    fn output(&mut self) -> String {
        let text = String::from_utf8_lossy(self.session.output()).into_owned();
        self.session.clear_output();
        text
    }

    /// Sends `line`, resolves gateway steps, and returns the codes of the replies.
    fn say(&mut self, line: &str) -> Vec<u16> {
        let step = self.session.on_line(line.as_bytes());
        self.resolve(step);
        codes(&self.output())
    }

    fn resolve(&mut self, mut step: Step) {
        loop {
            step = match step {
                Step::CheckRecipient(address) => {
                    let channel = directory(&address, self.session.login());
                    self.session.recipient_checked(address, channel)
                }
                Step::Authenticate(c) => {
                    let login = (c.user == "alice" && c.password == "pw").then(|| Login {
                        channel: "a".into(),
                        user: "alice".into(),
                        tls_required: false,
                    });
                    self.session.authenticated(login)
                }
                Step::BeginMessage(envelope) => {
                    self.begun.push(*envelope);
                    self.session.data_started(self.begin.clone())
                }
                other => {
                    self.last = other;
                    return;
                }
            }
        }
    }

    fn expect(&mut self, line: &str, want: &[u16]) {
        assert_eq!(self.say(line), want, "after {line:?}");
    }

    fn finish(&mut self, outcome: DataOutcome) -> String {
        let step = self.session.data_finished(outcome);
        assert_eq!(step, Step::Continue);
        self.output()
    }
}

/// The code of every reply (multi-line replies count once).
fn codes(output: &str) -> Vec<u16> {
    output.lines().filter(|l| l.as_bytes().get(3) == Some(&b' ')).filter_map(|l| l[..3].parse().ok()).collect()
}

fn receipt() -> Receipt {
    Receipt { id: EnvelopeId::from_u128(42), size: 7, sha256: Sha256([0; 32]) }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn ehlo_advertises_what_is_configured() {
    let mut plain = Test::new(config(|_| {}));
    assert_eq!(plain.session.on_line(b"EHLO c.test"), Step::Continue);
    let text = plain.output();
    assert_eq!(
        text,
        "250-mx.test\r\n250-SIZE 67108864\r\n250-8BITMIME\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n250 HELP\r\n"
    );
    let mut tls = Test::new(config(|c| c.tls = Some(tls_config())));
    tls.session.on_line(b"EHLO c.test");
    let text = tls.output();
    assert!(text.contains("250-STARTTLS\r\n") && !text.contains("AUTH"), "{text}");
    let mut open = Test::new(config(|c| c.auth_without_tls = true));
    open.session.on_line(b"EHLO c.test");
    assert!(open.output().contains("250-AUTH PLAIN LOGIN\r\n"));
    let mut helo = Test::new(config(|_| {}));
    helo.session.on_line(b"HELO c.test");
    assert_eq!(helo.output(), "250 mx.test\r\n");
}

#[test]
fn commands_out_of_order() {
    let mut t = Test::new(config(|_| {}));
    t.expect("MAIL FROM:<s@x.test>", &[503]);
    t.expect("RCPT TO:<r@a.test>", &[503]);
    t.expect("DATA", &[503]);
    t.expect("EHLO", &[501]);
    t.expect("HELO c.test", &[250]);
    t.expect("RCPT TO:<r@a.test>", &[503]);
    t.expect("DATA", &[503]);
    t.expect("MAIL FROM:<s@x.test>", &[250]);
    t.expect("DATA", &[554]);
    t.expect("MAIL FROM:<s@x.test>", &[503]);
    t.expect("RSET", &[250]);
    t.expect("RCPT TO:<r@a.test>", &[503]);
}

#[test]
fn simple_commands() {
    let mut t = Test::new(config(|_| {}));
    for (line, code) in [("NOOP", 250), ("VRFY bob", 252), ("HELP", 214), ("RSET", 250), ("BDAT 10 LAST", 500)] {
        t.expect(line, &[code]);
    }
    t.expect("MAIL FROM:<a@b> SMTPUTF8", &[555]);
    t.expect("\u{7f}", &[500]);
    assert_eq!(t.session.on_line(b"quit"), Step::Close);
    assert_eq!(t.output(), "221 2.0.0 bye\r\n");
}

#[test]
fn declared_size_over_the_limit() {
    let mut t = Test::ready(config(|c| c.max_message_bytes = 1000));
    t.expect("MAIL FROM:<s@x.test> SIZE=1001", &[552]);
    t.expect("MAIL FROM:<s@x.test> SIZE=1000", &[250]);
}

#[test]
fn recipient_answers_from_the_gateway() {
    let mut t = Test::ready(config(|_| {}));
    t.expect("MAIL FROM:<>", &[250]);
    t.expect("RCPT TO:<nobody@z.test>", &[550]);
    t.expect("RCPT TO:<secure@a.test>", &[530]);
    t.expect("RCPT TO:<down@a.test>", &[451]);
    t.expect("RCPT TO:<one@a.test>", &[250]);
    t.expect("RCPT TO:<x@b.test>", &[452]);
    t.expect("RCPT TO:<ONE@A.TEST>", &[250]);
    t.expect("RCPT TO:<two@a.test>", &[250]);
    t.expect("RCPT TO:<three@a.test>", &[250]);
    t.expect("RCPT TO:<four@a.test>", &[452]);
    t.expect("DATA", &[354]);
    let envelope = &t.begun[0];
    assert_eq!(envelope.channel, "a");
    assert_eq!(envelope.from, "");
    assert_eq!(envelope.recipients, ["one@a.test", "two@a.test", "three@a.test"]);
    assert_eq!((envelope.helo.as_str(), envelope.login.as_deref(), envelope.tls), ("client.test", None, false));
}

#[test]
fn message_outcomes_and_the_transaction_reset() {
    let outcomes = [
        (DataOutcome::Queued(receipt()), "250 2.0.0 OK queued as 0000000000000000000000001A\r\n"),
        (
            DataOutcome::Violation(Violation::TooBig),
            "552 5.3.4 message size exceeds fixed maximum message size (67108864 octets)\r\n",
        ),
        (DataOutcome::Violation(Violation::LineTooLong), "554 5.6.0 message has a line longer than 1000 octets\r\n"),
        (DataOutcome::Failed(FsError::InsufficientStorage), "452 4.3.1 insufficient system storage\r\n"),
        (
            DataOutcome::Failed(FsError::Unavailable("disk".into())),
            "451 4.3.0 temporarily unavailable, try again later\r\n",
        ),
    ];
    let mut t = Test::ready(config(|_| {}));
    for (outcome, reply) in outcomes {
        t.expect("MAIL FROM:<s@x.test>", &[250]);
        t.expect("RCPT TO:<r@a.test>", &[250]);
        t.expect("DATA", &[354]);
        assert_eq!(t.finish(outcome), reply);
        t.expect("RCPT TO:<r@a.test>", &[503]);
        t.expect("RSET", &[250]);
    }
    // Refused messages are not client errors; only the five 503s count.
    assert_eq!(t.session.errors, 5);
}

#[test]
fn begin_message_refusals() {
    for (error, code) in [(FsError::InsufficientStorage, 452), (FsError::Unavailable("x".into()), 451)] {
        let mut t = Test::ready(config(|_| {}));
        t.begin = Err(error);
        t.expect("MAIL FROM:<s@x.test>", &[250]);
        t.expect("RCPT TO:<r@a.test>", &[250]);
        t.expect("DATA", &[code]);
        t.expect("RCPT TO:<r@a.test>", &[503]);
    }
}

#[test]
fn auth_needs_tls_unless_allowed() {
    let mut t = Test::ready(config(|_| {}));
    t.expect(&format!("AUTH PLAIN {}", b64(b"\0alice\0pw")), &[538]);
    t.expect("RCPT TO:<secure@a.test>", &[503]);
}

#[test]
fn auth_plain_and_login_exchanges() {
    let open = || config(|c| c.auth_without_tls = true);
    let mut t = Test::ready(open());
    t.expect("AUTH PLAIN", &[334]);
    t.expect(&b64(b"\0alice\0pw"), &[235]);
    t.expect("AUTH PLAIN", &[503]);
    t.expect("MAIL FROM:<s@x.test>", &[250]);
    t.expect("RCPT TO:<secure@a.test>", &[250]);
    t.expect("DATA", &[354]);
    assert_eq!(t.begun[0].login.as_deref(), Some("alice"));

    let mut t = Test::ready(open());
    t.expect("AUTH LOGIN", &[334]);
    t.expect(&b64(b"alice"), &[334]);
    t.expect(&b64(b"wrong"), &[535]);
    t.expect(&format!("AUTH LOGIN {}", b64(b"alice")), &[334]);
    assert_eq!(t.say("*"), [501]);
    t.expect("AUTH CRAM-MD5", &[504]);
    t.expect("AUTH PLAIN", &[334]);
    t.expect("!!!", &[501]);
    t.expect("MAIL FROM:<s@x.test>", &[250]);
    t.expect("AUTH PLAIN", &[503]);
}

#[test]
fn auth_lines_are_not_commands() {
    let mut t = Test::ready(config(|c| c.auth_without_tls = true));
    t.expect("AUTH LOGIN", &[334]);
    // "QUIT" is read as a base64 user name, not as a command.
    t.expect("QUIT", &[334]);
    assert_eq!(t.last, Step::Continue);
}

#[test]
fn starttls_and_the_fresh_state_after_it() {
    let mut t = Test::ready(config(|_| {}));
    t.expect("STARTTLS", &[502]);
    let mut t = Test::new(config(|c| c.tls = Some(tls_config())));
    t.expect("STARTTLS", &[503]);
    t.expect("EHLO c.test", &[250]);
    t.expect("MAIL FROM:<s@x.test>", &[250]);
    t.expect("STARTTLS now", &[501]);
    assert_eq!(t.say("STARTTLS"), [220]);
    assert_eq!(t.last, Step::StartTls);
    t.session.tls_started();
    t.expect("RCPT TO:<r@a.test>", &[503]);
    t.expect("MAIL FROM:<s@x.test>", &[503]);
    assert_eq!(t.session.on_line(b"EHLO c.test"), Step::Continue);
    let ehlo = t.output();
    assert!(ehlo.contains("AUTH PLAIN LOGIN") && !ehlo.contains("STARTTLS"), "{ehlo}");
    t.expect("STARTTLS", &[503]);
    t.expect(&format!("AUTH PLAIN {}", b64(b"\0alice\0pw")), &[235]);
    t.expect("MAIL FROM:<s@x.test>", &[250]);
    t.expect("RCPT TO:<r@a.test>", &[250]);
    t.expect("DATA", &[354]);
    assert!(t.begun[0].tls);
}

#[test]
fn too_many_errors_close_the_session() {
    let mut t = Test::new(config(|c| c.max_errors = 3));
    t.expect("FOO", &[500]);
    t.expect("MAIL FROM:<a@b>", &[503]);
    t.expect("NOOP", &[250]);
    assert_eq!(t.say("BAR"), [500, 421]);
    assert_eq!(t.last, Step::Close);
}

#[test]
fn ehlo_again_drops_the_transaction() {
    let mut t = Test::ready(config(|_| {}));
    t.expect("MAIL FROM:<s@x.test>", &[250]);
    t.expect("RCPT TO:<r@a.test>", &[250]);
    t.expect("EHLO client.test", &[250]);
    t.expect("DATA", &[503]);
    t.expect("MAIL FROM:<s@x.test>", &[250]);
}

#[test]
fn long_lines_and_closing_replies() {
    let mut t = Test::ready(config(|c| c.auth_without_tls = true));
    t.expect("AUTH PLAIN", &[334]);
    assert_eq!(t.session.on_line_too_long(), Step::Continue);
    assert_eq!(t.output(), "500 5.5.2 line too long\r\n");
    t.expect("NOOP", &[250]);
    assert_eq!(t.session.close(reply::IDLE_TIMEOUT), Step::Close);
    assert_eq!(t.output(), "421 4.4.2 idle timeout\r\n");
}
