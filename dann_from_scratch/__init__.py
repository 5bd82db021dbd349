"""Reproduction of Ganin & Lempitsky (2015), Unsupervised Domain Adaptation by Backpropagation (DANN)."""
