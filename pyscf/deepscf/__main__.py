"""``python -m pyscf.deepscf COMMAND ...``: the same as the ``deepscf`` console command."""
import sys

from pyscf.deepscf.cli import main

if __name__ == '__main__':
    sys.exit(main())
