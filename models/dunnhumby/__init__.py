"""dunnhumby models: basket and sequence tables (`baskets`), LDA shopping missions (`missions`,
`mission_training`), the next-basket Keras model with its baselines and metrics (`next_basket`,
`next_basket_training`)."""
