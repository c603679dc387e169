"""What is read, and nothing about models beyond a tokenizer: sources (local folders and ir_datasets behind one
protocol), TREC files, the first stage (the source's run or BM25), training pairs and their batches, tokenization,
the LightningDataModule, and the quickstart's generated sample."""
