//! How to check the report: the signing key and the command that verifies
//! the signature.

use std::fmt::Write as _;

use crate::report::sign::SignedReport;

use super::esc;
use super::wording::group4;

pub(super) fn verification(h: &mut String, signed: &SignedReport) {
    let _ = writeln!(
        h,
        "<section id=\"verify\">\n<h2>How to check this report</h2>\n\
         <p>This page is a view of a signed record: the JSON file written with it, also carried \
         inside this page. The auditing device signed the record with its Ed25519 key:</p>\n\
         <dl class=\"keys\"><div><dt>Key fingerprint</dt><dd><code class=\"fp\">{}</code></dd></div>\n\
         <div><dt>Public key (base64)</dt><dd><code>{}</code></dd></div></dl>\n\
         <p>Compare the fingerprint with the one the auditor gave you by another way (in person, \
         on paper). Then check the signature, on the JSON file or on this page:</p>\n\
         <pre>vitrine-audit verify-report report.json --public-key {}</pre>\n\
         <p>It prints the verdict when the signature is valid and the key is the expected one, \
         and refuses the file if anything in the report was changed after signing. The signed \
         bytes are defined in the project's <code>docs/report.md</code>, so other tools can \
         check them too.</p>\n</section>",
        esc(&group4(&signed.fingerprint())),
        esc(&signed.signature.public_key),
        esc(&signed.signature.public_key)
    );
}
