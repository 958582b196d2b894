"""The OCR pipeline: documents split into pages, pages OCR'd in workers, results committed."""
