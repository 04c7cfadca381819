"""Operations: plan diffs, promotion, images to mirror, CI matrix, state bootstrap, live audit."""
