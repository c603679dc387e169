"""What scores a pair, and nothing about Lightning: the scorer (a Hugging Face model and its tokenizer), its heads,
the inference backends, model folders and the Hub, the exported folder and its card, zero-shot teachers, and the
public :class:`~crossrank.models.reranker.Reranker`."""
