//! vsftpd with local-user login (PAM) and explicit FTPS on the same port: runs
//! as root (it drops to the user per session), `local_root` is the scratch
//! `data/` dir (no chroot), passive ports in a fixed free range, TLS optional for
//! the client (`force_local_*_ssl=NO`) so plain FTP works too; TLS data
//! connections must resume the control session (`require_ssl_reuse`, vsftpd's
//! default).

use std::path::Path;
use std::process::Command;

use super::{Daemon, Scratch, free_port, free_port_range, require};

pub struct Vsftpd {
    pub port: u16,
    /// The server's certificate (PEM), for pinning.
    pub cert_pem: String,
    _daemon: Daemon,
}

impl Vsftpd {
    /// Starts vsftpd serving `scratch.data()`, with a fresh certificate for
    /// 127.0.0.1 and localhost signed by `ca`.
    pub fn start(scratch: &Scratch, ca: &TestCa) -> Vsftpd {
        require("vsftpd", "vsftpd");
        std::fs::create_dir_all("/var/run/vsftpd/empty").unwrap();
        let dir = scratch.path();
        let (cert_pem, key_pem) = ca.server_certificate();
        std::fs::write(dir.join("cert.pem"), &cert_pem).unwrap();
        std::fs::write(dir.join("key.pem"), &key_pem).unwrap();
        let port = free_port();
        let passive = free_port_range(20);
        let conf = dir.join("vsftpd.conf");
        std::fs::write(&conf, config(dir, &scratch.data(), port, passive)).unwrap();
        let mut command = Command::new("vsftpd");
        command.arg(&conf);
        let mut daemon = Daemon::spawn("vsftpd", command, &dir.join("vsftpd.out"));
        daemon.wait_for_port(port);
        Vsftpd { port, cert_pem, _daemon: daemon }
    }
}

fn config(dir: &Path, data: &Path, port: u16, (pasv_min, pasv_max): (u16, u16)) -> String {
    let (dir, data) = (dir.display(), data.display());
    format!(
        "listen=YES\nlisten_ipv6=NO\nlisten_address=127.0.0.1\nlisten_port={port}\nbackground=NO\n\
         seccomp_sandbox=NO\nanonymous_enable=NO\nlocal_enable=YES\nwrite_enable=YES\nlocal_umask=022\n\
         local_root={data}\nchroot_local_user=NO\npam_service_name=vsftpd\nuserlist_enable=NO\n\
         pasv_enable=YES\npasv_address=127.0.0.1\npasv_min_port={pasv_min}\npasv_max_port={pasv_max}\n\
         connect_from_port_20=NO\nxferlog_enable=NO\nvsftpd_log_file={dir}/vsftpd.log\n\
         dirmessage_enable=NO\nmax_clients=0\nmax_per_ip=0\n\
         ssl_enable=YES\nrsa_cert_file={dir}/cert.pem\nrsa_private_key_file={dir}/key.pem\n\
         allow_anon_ssl=NO\nforce_local_data_ssl=NO\nforce_local_logins_ssl=NO\nssl_ciphers=HIGH\n"
    )
}

/// A throwaway CA that issues server certificates for 127.0.0.1 / localhost.
pub struct TestCa {
    pub cert_pem: String,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl TestCa {
    pub fn new(name: &str) -> TestCa {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(rcgen::DnType::CommonName, name);
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::DigitalSignature];
        let cert = params.self_signed(&key).unwrap();
        TestCa { cert_pem: cert.pem(), issuer: rcgen::Issuer::new(params, key) }
    }

    /// A server certificate and its key, both PEM.
    pub fn server_certificate(&self) -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
        params.distinguished_name.push(rcgen::DnType::CommonName, "localhost");
        params.is_ca = rcgen::IsCa::ExplicitNoCa;
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}
