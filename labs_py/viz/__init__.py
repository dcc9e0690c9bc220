"""Pure figure builders: data in, ``plotly.graph_objects.Figure`` out. Nothing here computes
a number the book states (that is ``labs_py``'s other modules) and nothing here displays
(that is ``labs_py.widgets``)."""
