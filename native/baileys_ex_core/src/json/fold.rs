//! An iterative bottom-up fold over any tree (terms or JSON documents), so
//! that no codec recurses once per nesting level.

use super::errors::JsonError;

/// What entering a node of a fold produces: a finished result, or children
/// to fold first and a note on how to combine their results.
pub(crate) enum Step<'a, I, F, O> {
    Leaf(O),
    Node { children: Vec<&'a I>, finish: F },
}

struct Frame<'a, I, F, O> {
    /// Children still to visit, last first.
    pending: Vec<&'a I>,
    done: Vec<O>,
    finish: F,
}

/// Folds a tree bottom-up with an explicit stack: `enter` sees each node
/// before its children, `finish` combines the children's results. Nesting
/// deeper than `max_depth` is `TooDeep`.
pub(crate) fn fold<'a, I, F, O>(
    root: &'a I,
    max_depth: usize,
    mut enter: impl FnMut(&'a I) -> Result<Step<'a, I, F, O>, JsonError>,
    mut finish: impl FnMut(F, Vec<O>) -> Result<O, JsonError>,
) -> Result<O, JsonError> {
    let mut stack: Vec<Frame<'a, I, F, O>> = Vec::new();
    let mut step = enter(root)?;
    loop {
        match step {
            Step::Leaf(out) => match stack.last_mut() {
                None => return Ok(out),
                Some(top) => top.done.push(out),
            },
            Step::Node { children, finish } => {
                if stack.len() >= max_depth {
                    return Err(JsonError::TooDeep);
                }
                let mut pending = children;
                pending.reverse();
                stack.push(Frame {
                    done: Vec::with_capacity(pending.len()),
                    pending,
                    finish,
                });
            }
        }
        // Find the next node to enter, finishing completed frames on the way.
        loop {
            let Some(top) = stack.last_mut() else {
                return Err(JsonError::Unsupported("fold lost its stack".into()));
            };
            if let Some(child) = top.pending.pop() {
                step = enter(child)?;
                break;
            }
            let Some(frame) = stack.pop() else {
                return Err(JsonError::Unsupported("fold lost its stack".into()));
            };
            let out = finish(frame.finish, frame.done)?;
            match stack.last_mut() {
                None => return Ok(out),
                Some(top) => top.done.push(out),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

    /// Sums the integers of a term, to see children finished before parents.
    fn sum(value: &Value, max_depth: usize) -> Result<i64, JsonError> {
        fold(
            value,
            max_depth,
            |node: &Value| {
                Ok(match node {
                    Value::List(items) => Step::Node {
                        children: items.iter().collect(),
                        finish: 0,
                    },
                    Value::Integer(n) => Step::Leaf(*n),
                    _ => Step::Leaf(0),
                })
            },
            |base: i64, done: Vec<i64>| Ok(base + done.iter().sum::<i64>()),
        )
    }

    #[test]
    fn folds_every_child_and_refuses_nesting_past_the_bound() {
        let tree = Value::List(vec![
            Value::Integer(1),
            Value::List(vec![Value::Integer(2), Value::List(vec![])]),
            Value::Integer(3),
        ]);
        // Three containers deep: the innermost is the empty list.
        assert_eq!(sum(&tree, 3), Ok(6));
        assert_eq!(sum(&tree, 2), Err(JsonError::TooDeep));
        assert_eq!(sum(&Value::Integer(7), 0), Ok(7));
    }
}
