//! The sizes of computation a node takes, checked before any work starts.
//!
//! Owns: the public limits on a computation's inputs (element counts, the products of a matrix
//! product) and the largest session message they imply, and the one check both the requester's
//! node (before it starts a session) and every member (before it joins) apply. Must never look at
//! data: only public shapes from manifests.

use enigma_protocol::mpc::Op;
use enigma_protocol::value::ValueMeta;

/// Most input elements (over all keys) one computation takes.
pub const MAX_COMPUTE_ELEMENTS: usize = 4_000_000;
/// Most scalar products of one `linalg.dot` (300×300 · 300×300 is 2.7·10^7).
pub const MAX_DOT_PRODUCTS: u128 = 200_000_000;
/// Largest session message a member reassembles from a stream: a reshared input of
/// [`MAX_COMPUTE_ELEMENTS`] is 64 MB; the preprocessing rounds of a windowed tournament stay far
/// below. The rest is headroom against a larger round than planned, never a legitimate need.
pub const MAX_SESSION_MESSAGE: usize = 512 << 20;

/// Why a computation of `op` over inputs shaped like `metas` is too large for a node, if it is.
pub fn check_size(op: &Op, metas: &[ValueMeta]) -> Result<(), String> {
    let mut total: usize = 0;
    for m in metas {
        let n = m.element_count().ok_or("an input's element count overflows")?;
        total = total.saturating_add(n);
    }
    if total > MAX_COMPUTE_ELEMENTS {
        return Err(format!(
            "{total} input values is more than a node computes on at once (at most {MAX_COMPUTE_ELEMENTS})"
        ));
    }
    if let (Op::Dot, [a, b]) = (op, metas) {
        let products = dot_products(&a.shape().unwrap_or_default(), &b.shape().unwrap_or_default());
        if products > MAX_DOT_PRODUCTS {
            return Err(format!(
                "a product of {products} scalar multiplications is more than a node computes at once (at most \
                 {MAX_DOT_PRODUCTS})"
            ));
        }
    }
    Ok(())
}

/// Scalar products numpy.dot does for these shapes (0 for shapes it would refuse).
fn dot_products(a: &[usize], b: &[usize]) -> u128 {
    let prod = |s: &[usize]| s.iter().fold(1u128, |acc, &d| acc.saturating_mul(d as u128));
    match (a.len(), b.len()) {
        (0, _) => prod(b),
        (_, 0) => prod(a),
        (_, 1) => prod(a),
        (_, nb) => {
            let k = b[nb - 2].max(1) as u128;
            prod(a).saturating_mul(prod(b) / k)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use enigma_protocol::value::Dtype;

    fn arr(shape: &[usize]) -> ValueMeta {
        ValueMeta::Array { shape: shape.iter().map(|d| *d as u64).collect(), dtype: Dtype::Float }
    }

    #[test]
    fn sizes_a_node_takes() {
        assert!(check_size(&Op::Max, &[arr(&[1_000_000])]).is_ok());
        assert!(check_size(&Op::Mean, &[arr(&[2_000_000]), arr(&[2_000_000])]).is_ok());
        let e = check_size(&Op::Mean, &[arr(&[MAX_COMPUTE_ELEMENTS + 1])]).unwrap_err();
        assert!(e.contains("at most"), "{e}");
        assert!(check_size(&Op::Dot, &[arr(&[300, 300]), arr(&[300, 300])]).is_ok());
        assert_eq!(dot_products(&[300, 300], &[300, 300]), 27_000_000);
        assert_eq!(dot_products(&[10], &[10]), 10);
        assert_eq!(dot_products(&[], &[7, 3]), 21);
        assert!(check_size(&Op::Dot, &[arr(&[1000, 1000]), arr(&[1000, 1000])]).is_err());
    }
}
