"""dunnhumby "Let's get sort of real": weekly transaction files -> Delta -> shopping missions and next baskets.

    <landing>/dunnhumby/transactions_YYYYWW.csv[.gz]
        --dunnhumby_landing_sensor (adds the week to the `dunnhumby_shop_weeks` partitions)-->
    dunnhumby_weekly_job[week]:
        dunnhumby_transactions[week]  (+ check dunnhumby_transactions_profile)
        dunnhumby_baskets[week]
        dunnhumby_next_basket_scores[week]   (week W: each W customer's next basket after W, EXISTING champion)
    <landing>/dunnhumby/time.csv  -->  dunnhumby_shop_calendar
    dunnhumby_baskets also follows any new transactions week on its own (automation condition `derived_table`).
    training (automation `retrain(RETRAIN_CRON)`: Mondays, once new weeks arrived; or dunnhumby_training_job by hand):
        dunnhumby_customer_basket_sequences
        dunnhumby_basket_missions + dunnhumby_mission_profiles + dunnhumby_mission_top_products  (LDA)
        dunnhumby_next_basket_model  (champion on validation weeks: TopFreq baselines, TIFU-KNN, repeat/explore net)

Every partitioned asset replaces exactly its weeks (`DeltaStore.overwrite` with a week window), so a sensor
run, a re-run or a range backfill (one run, `BackfillPolicy.single_run()`) never doubles or drops rows.

Modules: `tables` (every Delta table and model store, declared once), `partitions`, `resources`,
`ingestion` (calendar, transactions, baskets), `checks`, `training` (sequences, missions, next-basket model),
`scoring`, `automation` (jobs, sensor, schedule, RETRAIN_CRON), `definitions`. The work itself is in
`scrapers/dunnhumby/` (reading and profiling the files) and `models/dunnhumby/` (baskets, LDA, Keras).
See docs/dunnhumby.md.
"""
