"""dunnhumby models: basket and sequence tables (`baskets`, `basket_log`), LDA shopping missions (`missions`,
`mission_training`), next-basket recommendation: the week-split protocol, baselines and metrics
(`next_basket_evaluation`), TIFU-KNN (`tifu_knn`), the repeat/explore network (`repeat_explore`), champion
selection and the served model (`next_basket_selection`), scoring (`next_basket_scoring`), and the original
BiLSTM (`next_basket`, now a benchmark candidate)."""
