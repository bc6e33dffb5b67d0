"""Amazon recommenders: the DeepCart `build` step (`dataset_builder`), the recommenders behind one interface
(`recommenders`, `autoencoder`), training and full-catalogue evaluation of each (`training`), the side-by-side
comparison (`comparison`) and the recommendations web page (`recommendations_page`)."""
